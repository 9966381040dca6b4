"""The outbox drainer: one task owns the outbox and sends it oldest first, at least once.

A batch leaves the outbox only after the transport confirmed it (MQTT PUBACK, HTTP 2xx), and
that delete is a durable commit; a crash in between re-sends it, and the receiver
de-duplicates by `batch_id`. The backlog is bounded by `uplink.max_backlog_mb`: what has to go
is dropped oldest first, counted in `state` and reported as `uplink_dropped_batches` in the
next batch that leaves — never silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from pathlib import Path

from ..config.agent import UplinkConfig
from ..links import Link
from ..store import StoreWriter, connect, outbox
from ..store.outbox import outbox_status
from .transports import Transport, UplinkError

log = logging.getLogger(__name__)


class Uplink:
    """Drains the outbox through `transport`; `wake()` sends now instead of after the backoff."""

    def __init__(self, db_path: Path, writer: StoreWriter, transport: Transport, config: UplinkConfig) -> None:
        self._db_path = db_path
        self._writer = writer
        self._transport = transport
        self._config = config
        self._max_bytes = int(config.max_backlog_mb * 1024 * 1024)
        self.link = Link(f"uplink {config.url}", initial=1.0, cap=300.0, logger=log)
        self._wake = asyncio.Event()
        self.sent = 0
        self._after_seq = 0  # everything up to here is confirmed; its delete may still be in the writer

    def wake(self) -> None:
        self.link.reset()
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def run(self) -> None:
        reader = await asyncio.to_thread(connect, self._db_path)
        try:
            async with self._transport:
                while True:
                    await self._enforce_bound(reader)
                    row = outbox.next_batch(reader, self._after_seq)
                    if row is None:
                        await self._sleep(self._config.interval_s)
                        continue
                    await self._send_one(reader, *row)
        finally:
            reader.close()

    async def _send_one(self, reader: sqlite3.Connection, seq: int, batch_id: str, payload: str, attempts: int) -> None:
        body = _with_drops(payload, reader)
        try:
            await self._transport.send(batch_id, body.encode())
        except UplinkError as exc:
            delay = min(max(exc.retry_after, 0.0), 300.0) if exc.retry_after is not None else None
            delay = self.link.down(exc, delay=delay)
            await self._writer.write(*outbox.failed(seq, str(exc)))
            await self._sleep(delay)
            return
        self.link.up()
        self.sent += 1
        self._after_seq = seq
        writes = outbox.sent(seq, resent=attempts > 0)
        if body is not payload:
            # Durable before the next batch is built, so a drop is reported exactly once.
            dropped = outbox.get_state(reader, "uplink.dropped", "0")
            await self._writer.write(*writes, outbox.set_state("uplink.dropped_reported", dropped))
            return
        # No need to wait for the disk: if this delete is lost in a power cut, the batch is sent
        # again and the cloud de-duplicates it by batch_id (at-least-once, by design).
        await self._writer.submit(*writes)

    async def _enforce_bound(self, reader: sqlite3.Connection) -> None:
        doomed = outbox.over_bound(reader, self._max_bytes)
        if not doomed:
            return
        log.warning(
            "uplink backlog over %.0f MB: dropping the %d oldest batches", self._config.max_backlog_mb, len(doomed)
        )
        await self._writer.write(*outbox.drop(doomed))


def _with_drops(payload: str, reader: sqlite3.Connection) -> str:
    """Tell the cloud about batches dropped since it was last told (once, in the next batch out)."""
    dropped = int(outbox.get_state(reader, "uplink.dropped", "0"))
    reported = int(outbox.get_state(reader, "uplink.dropped_reported", "0"))
    if dropped <= reported:
        return payload
    batch = json.loads(payload)
    if batch.get("buckets"):
        batch["buckets"][-1]["metrics"].append(
            {"name": "uplink_dropped_batches", "labels": {}, "value": dropped - reported}
        )
    return json.dumps(batch, separators=(",", ":"))


__all__ = ["Uplink", "outbox_status"]
