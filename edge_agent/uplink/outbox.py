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
import time
from pathlib import Path
from typing import Any

from ..backoff import Backoff, LinkState
from ..config import UplinkConfig
from ..store import StoreWriter, Write, connect
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
        self._backoff = Backoff(initial=1.0, cap=300.0)
        self._wake = asyncio.Event()
        self.state = LinkState.STOPPED
        self.sent = 0
        self._after_seq = 0  # everything up to here is confirmed; its delete may still be in the writer

    def wake(self) -> None:
        self._backoff.reset()
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
                    row = reader.execute(
                        "SELECT seq, batch_id, payload, attempts FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1",
                        (self._after_seq,),
                    ).fetchone()
                    if row is None:
                        self.state = LinkState.CONNECTED if self.sent else LinkState.STOPPED
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
            delay = exc.retry_after if exc.retry_after is not None else self._backoff.next_delay()
            delay = min(max(delay, 0.0), 300.0)
            self.state = LinkState.WAITING
            log.log(logging.WARNING if attempts == 0 else logging.DEBUG, "uplink: %s; retry in %.0fs", exc, delay)
            await self._writer.write(
                Write("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (str(exc), seq)),
                _state("uplink.last_error", json.dumps({"ts": time.time(), "error": str(exc)})),
            )
            await self._sleep(delay)
            return
        self._backoff.reset()
        self.state = LinkState.CONNECTED
        self.sent += 1
        self._after_seq = seq
        writes = [Write("DELETE FROM outbox WHERE seq = ?", (seq,)), _state("uplink.last_success", str(time.time()))]
        if attempts:
            writes.append(_bump("uplink.resent", 1))
        if body is not payload:
            # Durable before the next batch is built, so a drop is reported exactly once.
            writes.append(_state("uplink.dropped_reported", _get(reader, "uplink.dropped", "0")))
            await self._writer.write(*writes)
            return
        # No need to wait for the disk: if this delete is lost in a power cut, the batch is sent
        # again and the cloud de-duplicates it by batch_id (at-least-once, by design).
        await self._writer.submit(*writes)

    async def _enforce_bound(self, reader: sqlite3.Connection) -> None:
        total = reader.execute("SELECT COALESCE(SUM(size), 0) FROM outbox").fetchone()[0]
        if total <= self._max_bytes:
            return
        doomed: list[int] = []
        for seq, size in reader.execute("SELECT seq, size FROM outbox ORDER BY seq"):
            if total <= self._max_bytes:
                break
            doomed.append(seq)
            total -= size
        log.warning(
            "uplink backlog over %.0f MB: dropping the %d oldest batches", self._config.max_backlog_mb, len(doomed)
        )
        marks = ",".join("?" * len(doomed))
        await self._writer.write(
            Write(f"DELETE FROM outbox WHERE seq IN ({marks})", doomed), _bump("uplink.dropped", len(doomed))
        )

    def status(self, reader: sqlite3.Connection) -> dict[str, Any]:
        return {"state": str(self.state), "sent": self.sent, **outbox_status(reader)}


def _state(key: str, value: str) -> Write:
    return Write(
        "INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _bump(key: str, n: int) -> Write:
    return Write(
        "INSERT INTO state(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
        (key, str(n)),
    )


def _get(reader: sqlite3.Connection, key: str, default: str) -> str:
    row = reader.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def _with_drops(payload: str, reader: sqlite3.Connection) -> str:
    """Tell the cloud about batches dropped since it was last told (once, in the next batch out)."""
    dropped = int(_get(reader, "uplink.dropped", "0"))
    reported = int(_get(reader, "uplink.dropped_reported", "0"))
    if dropped <= reported:
        return payload
    batch = json.loads(payload)
    if batch.get("buckets"):
        batch["buckets"][-1]["metrics"].append(
            {"name": "uplink_dropped_batches", "labels": {}, "value": dropped - reported}
        )
    return json.dumps(batch, separators=(",", ":"))


def outbox_status(reader: sqlite3.Connection) -> dict[str, Any]:
    """Backlog figures straight from the database: they keep working while the cloud is down."""
    count, size, oldest, retried = reader.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created_at), COALESCE(SUM(attempts > 0), 0) FROM outbox"
    ).fetchone()
    last_error = _get(reader, "uplink.last_error", "")
    last_success = _get(reader, "uplink.last_success", "")
    return {
        "backlog": count,
        "backlog_bytes": size,
        "oldest_pending_age_s": round(time.time() - oldest, 1) if oldest else None,
        "batches_retrying": retried,
        "last_success": float(last_success) if last_success else None,
        "last_error": json.loads(last_error) if last_error else None,
        "dropped": int(_get(reader, "uplink.dropped", "0")),
        "resent": int(_get(reader, "uplink.resent", "0")),
    }


__all__ = ["Uplink", "outbox_status"]
