"""The outbox table: batches waiting for the uplink, oldest first, and the uplink's counters."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import connect
from .rows import Write


@dataclass(frozen=True, slots=True)
class Pending:
    """One batch waiting for the cloud."""

    seq: int
    batch_id: str
    payload: str
    attempts: int


class OutboxReader:
    """The uplink's own read connection: what waits to be sent, and the backlog's figures.

    Writes go through the store's one writer (the `Write`s below); this only reads.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: Path) -> OutboxReader:
        return cls(connect(path))

    def close(self) -> None:
        self._conn.close()

    def next(self, after_seq: int) -> Pending | None:
        row = next_batch(self._conn, after_seq)
        return None if row is None else Pending(*row)

    def over_bound(self, max_bytes: int) -> list[int]:
        return over_bound(self._conn, max_bytes)

    def state(self, key: str, default: str) -> str:
        return get_state(self._conn, key, default)

    def status(self) -> dict[str, Any]:
        return outbox_status(self._conn)


def next_batch(reader: sqlite3.Connection, after_seq: int) -> tuple[int, str, str, int] | None:
    """(seq, batch_id, payload, attempts) of the oldest batch after `after_seq` (seqs are never reused)."""
    row = reader.execute(
        "SELECT seq, batch_id, payload, attempts FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1", (after_seq,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3])


def failed(seq: int, error: str) -> tuple[Write, ...]:
    return (
        Write("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error, seq)),
        failure_state(error),
    )


def failure_state(error: str) -> Write:
    return set_state("uplink.last_error", json.dumps({"ts": time.time(), "error": error}))


def sent(seq: int, *, resent: bool) -> tuple[Write, ...]:
    writes = (Write("DELETE FROM outbox WHERE seq = ?", (seq,)), set_state("uplink.last_success", str(time.time())))
    return (*writes, bump("uplink.resent", 1)) if resent else writes


def over_bound(reader: sqlite3.Connection, max_bytes: int) -> list[int]:
    """The oldest batches to drop so that the backlog fits in `max_bytes`."""
    total = reader.execute("SELECT COALESCE(SUM(size), 0) FROM outbox").fetchone()[0]
    doomed: list[int] = []
    if total <= max_bytes:
        return doomed
    for seq, size in reader.execute("SELECT seq, size FROM outbox ORDER BY seq"):
        if total <= max_bytes:
            break
        doomed.append(seq)
        total -= size
    return doomed


def drop(seqs: list[int]) -> tuple[Write, ...]:
    marks = ",".join("?" * len(seqs))
    return Write(f"DELETE FROM outbox WHERE seq IN ({marks})", seqs), bump("uplink.dropped", len(seqs))


def set_state(key: str, value: str) -> Write:
    return Write(
        "INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def bump(key: str, n: int) -> Write:
    return Write(
        "INSERT INTO state(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
        (key, str(n)),
    )


def get_state(reader: sqlite3.Connection, key: str, default: str) -> str:
    row = reader.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def outbox_status(reader: sqlite3.Connection) -> dict[str, Any]:
    """Backlog figures straight from the database: they keep working while the cloud is down."""
    count, size, oldest, retried = reader.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created_at), COALESCE(SUM(attempts > 0), 0) FROM outbox"
    ).fetchone()
    last_error = get_state(reader, "uplink.last_error", "")
    last_success = get_state(reader, "uplink.last_success", "")
    return {
        "backlog": count,
        "backlog_bytes": size,
        "oldest_pending_age_s": round(time.time() - oldest, 1) if oldest else None,
        "batches_retrying": retried,
        "last_success": float(last_success) if last_success else None,
        "last_error": json.loads(last_error) if last_error else None,
        "dropped": int(get_state(reader, "uplink.dropped", "0")),
        "resent": int(get_state(reader, "uplink.resent", "0")),
    }


def count_dropped(conn: sqlite3.Connection, n: int) -> None:
    """Count batches dropped outside the uplink (shed for space), inside the caller's transaction."""
    write = bump("uplink.dropped", n)
    conn.execute(write.sql, write.params)
