"""The outbox drainer: one component owns the outbox and sends it oldest first, at least once.

A batch leaves the outbox only after the transport confirmed it (MQTT PUBACK, HTTP 2xx), and
that delete is a durable commit; a crash in between re-sends it, and the receiver
de-duplicates by `batch_id`. The backlog is bounded by `uplink.max_backlog_mb`: what has to go
is dropped oldest first, counted in `state` and reported as `uplink_dropped_batches` in the
next batch that leaves — never silently. Reconnecting and backing off is the link's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from ..config.agent import UplinkConfig
from ..core.component import Component, Sample, Status
from ..links import Link, identity_on
from ..store import StoreWriter, outbox
from ..store.outbox import OutboxReader, Pending, outbox_status
from .transports import Connection, Transport, UplinkError

log = logging.getLogger(__name__)


class Uplink(Component):
    """Drains the outbox through `transport`; `wake()` sends now instead of after the backoff."""

    name = "uplink"
    critical = True

    def __init__(
        self, db_path: Path, writer: StoreWriter, transport: Transport, config: UplinkConfig, *, client_id: str | None
    ) -> None:
        self._db_path = db_path
        self._writer = writer
        self._transport = transport
        self._config = config
        self._max_bytes = int(config.max_backlog_mb * 1024 * 1024)
        self.link = Link(
            f"uplink {config.url}",
            initial=1.0,
            cap=300.0,
            client_id=client_id,
            identity=identity_on(config.url),
            logger=log,
        )
        self._wake = asyncio.Event()
        self._reader: OutboxReader | None = None
        self.sent = 0
        self._after_seq = 0  # everything up to here is confirmed; its delete may still be in the writer
        self._gap_s = 1.0 / config.max_publish_per_s
        self._next_send = 0.0  # monotonic time the next publish may leave (the broker's rate limit)

    async def __aenter__(self) -> Uplink:
        self._reader = await asyncio.to_thread(OutboxReader.open, self._db_path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def wake(self) -> None:
        self.link.wake()
        self._wake.set()

    async def run(self) -> None:
        await self.link.run(self._connect, self._drain)

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Connection]:
        """The transport's connection; a failure to connect is recorded like a failed send."""
        try:
            async with self._transport.connect() as connection:
                yield connection
        except Exception as exc:  # recorded for `sync status`; the link decides what it means
            if not isinstance(exc, UplinkError) or not exc.recorded:
                await self._record_failure(exc)
            raise

    async def _record_failure(self, exc: BaseException) -> None:
        reader = self._reader
        assert reader is not None
        pending = reader.next(self._after_seq)
        text = str(exc) or type(exc).__name__
        await self._writer.write(*(outbox.failed(pending.seq, text) if pending else (outbox.failure_state(text),)))

    async def _drain(self, connection: Connection) -> None:
        reader = self._reader
        assert reader is not None
        while True:
            await self._enforce_bound(reader)
            pending = reader.next(self._after_seq)
            if pending is None:
                await self._idle(connection)
                continue
            await self._send_one(reader, connection, pending)

    async def _idle(self, connection: Connection) -> None:
        """Until the next poll, a wake-up (`sync now`, a new batch), or the connection going away."""
        self._wake.clear()
        watch = asyncio.ensure_future(connection.closed())
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.interval_s):
                    await asyncio.wait([watch, woken], return_when="FIRST_COMPLETED")
        finally:
            watch.cancel()
            woken.cancel()  # else every quiet poll leaves a task waiting for the next wake-up
        if watch.done() and not watch.cancelled():
            raise UplinkError("connection closed while idle", lost=True)

    async def _pace(self) -> None:
        """At most `uplink.max_publish_per_s`: a backlog after an outage leaves at the broker's pace."""
        wait = self._next_send - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        # Counted from when this one actually leaves: after a late wake-up (a busy loop) the next
        # must not follow closer than the broker allows.
        self._next_send = max(time.monotonic(), self._next_send) + self._gap_s

    async def _send_one(self, reader: OutboxReader, connection: Connection, pending: Pending) -> None:
        body = _with_drops(pending.payload, reader)
        await self._pace()
        try:
            await connection.send(pending.batch_id, body.encode())
        except UplinkError as exc:
            await self._writer.write(*outbox.failed(pending.seq, str(exc)))
            exc.recorded = True
            raise
        self.sent += 1
        self._after_seq = pending.seq
        writes = outbox.sent(pending.seq, resent=pending.attempts > 0)
        if body is not pending.payload:
            # Durable before the next batch is built, so a drop is reported exactly once.
            dropped = reader.state("uplink.dropped", "0")
            await self._writer.write(*writes, outbox.set_state("uplink.dropped_reported", dropped))
            return
        # No need to wait for the disk: if this delete is lost in a power cut, the batch is sent
        # again and the cloud de-duplicates it by batch_id (at-least-once, by design).
        await self._writer.submit(*writes)

    async def _enforce_bound(self, reader: OutboxReader) -> None:
        doomed = reader.over_bound(self._max_bytes)
        if not doomed:
            return
        log.warning(
            "uplink backlog over %.0f MB: dropping the %d oldest batches", self._config.max_backlog_mb, len(doomed)
        )
        await self._writer.write(*outbox.drop(doomed))

    def status(self) -> Status:
        link = self.link.status()
        backlog = self._reader.status() if self._reader is not None else {}
        return Status(
            self.name,
            "uplink",
            state=str(link.state),
            link=link,
            health=link.health(),
            samples=(
                Sample("outbox_batches", backlog.get("backlog", 0), kind="gauge", help="Batches waiting for the cloud"),
                Sample(
                    "outbox_oldest_age_seconds",
                    backlog.get("oldest_pending_age_s") or 0.0,
                    kind="gauge",
                    help="Age of the oldest pending batch",
                ),
                Sample("outbox_dropped", backlog.get("dropped", 0), help="Batches dropped by the backlog bound"),
                Sample(
                    "uplink_connected", 1.0 if link.up else 0.0, kind="gauge", help="1 while the uplink is connected"
                ),
                Sample("uplink_sent", self.sent, help="Batches the cloud confirmed"),
            ),
            body={"kind": self._config.kind, **backlog},
        )


class NoUplink(Component):
    """`uplink.kind: off`: nothing is sent, but the backlog figures still show in status."""

    name = "uplink"

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._reader: OutboxReader | None = None

    async def __aenter__(self) -> NoUplink:
        self._reader = await asyncio.to_thread(OutboxReader.open, self._db_path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def status(self) -> Status:
        backlog = self._reader.status() if self._reader is not None else {}
        return Status(self.name, "uplink", state="off", body={"kind": "off", **backlog})


def _with_drops(payload: str, reader: OutboxReader) -> str:
    """Tell the cloud about batches dropped since it was last told (once, in the next batch out)."""
    dropped = int(reader.state("uplink.dropped", "0"))
    reported = int(reader.state("uplink.dropped_reported", "0"))
    if dropped <= reported:
        return payload
    batch = json.loads(payload)
    if batch.get("buckets"):
        batch["buckets"][-1]["metrics"].append(
            {"name": "uplink_dropped_batches", "labels": {}, "value": dropped - reported}
        )
    return json.dumps(batch, separators=(",", ":"))


__all__ = ["Uplink", "outbox_status"]
