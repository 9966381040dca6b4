"""Closing open buckets: aggregate rows, one outbox batch each, and the open rows cleared — one transaction."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from .effects import Labels

log = logging.getLogger(__name__)


class CountRow(NamedTuple):
    """One metric's value under one label set."""

    name: str
    labels: Labels
    value: float


class SensorRow(NamedTuple):
    """A sensor resource's readings in a bucket: min, sum, max and how many."""

    labels: Labels
    lo: float
    total: float
    hi: float
    n: int


@dataclass(frozen=True, slots=True)
class OpenBucket:
    """Everything counted in one bucket, read back from the open_* tables."""

    start: float
    counts: Sequence[CountRow]
    visitors: dict[str, int]
    sensors: Sequence[SensorRow]
    support: dict[tuple[str, Labels], int]  # distinct people, sessions or sales behind each count


@dataclass(frozen=True, slots=True)
class Batch:
    """What a closed bucket becomes: its metric rows and the uplink messages (several when one
    would be over the cloud broker's limit)."""

    end: float
    metrics: list[tuple[str, str, float]]  # name, labels JSON, value
    messages: tuple[tuple[str, str], ...]  # (batch_id, payload)


Render = Callable[[OpenBucket], Batch]


def _labels(text: str) -> Labels:
    return tuple(sorted(json.loads(text).items()))


def read_bucket(conn: sqlite3.Connection, start: float) -> OpenBucket:
    counts = [
        CountRow(name, _labels(labels), value)
        for name, labels, value in conn.execute(
            "SELECT name, labels, value FROM open_counts WHERE bucket_start = ? ORDER BY name, labels", (start,)
        )
    ]
    visitors = dict(
        conn.execute("SELECT kind, COUNT(*) FROM open_visitors WHERE bucket_start = ? GROUP BY kind", (start,))
    )
    sensors = [
        SensorRow((("device", device), ("resource", resource)), lo, total, hi, n)
        for device, resource, lo, total, hi, n in conn.execute(
            "SELECT device, resource, lo, total, hi, n FROM open_sensors WHERE bucket_start = ? "
            "ORDER BY device, resource",
            (start,),
        )
    ]
    support = {
        (name, _labels(labels)): int(n)
        for name, labels, n in conn.execute(
            "SELECT name, labels, COUNT(*) FROM open_support WHERE bucket_start = ? GROUP BY name, labels", (start,)
        )
    }
    return OpenBucket(start, counts, visitors, sensors, support)


def open_starts(conn: sqlite3.Connection, before: float) -> list[float]:
    rows = conn.execute(
        "SELECT bucket_start FROM open_counts WHERE bucket_start < ?1 UNION "
        "SELECT bucket_start FROM open_support WHERE bucket_start < ?1 UNION "
        "SELECT bucket_start FROM open_visitors WHERE bucket_start < ?1 UNION "
        "SELECT bucket_start FROM open_sensors WHERE bucket_start < ?1 "
        "EXCEPT SELECT bucket_start FROM quarantined_buckets ORDER BY 1",
        (before,),
    )
    return [r[0] for r in rows]


@dataclass(frozen=True, slots=True)
class CloseBuckets:
    """Close every open bucket that started before `before`; their batch ids go to `closed`."""

    before: float
    render: Render
    closed: list[str]

    def apply(self, conn: sqlite3.Connection) -> None:
        for start in open_starts(conn, self.before):
            try:
                batch = self.render(read_bucket(conn, start))
            except Exception as exc:  # noqa: BLE001 -- a bucket that cannot render must not stop the ones after it
                quarantine(conn, start, exc)
                continue
            conn.executemany(
                "INSERT OR REPLACE INTO aggregates(bucket_start, bucket_end, name, labels, value) VALUES (?,?,?,?,?)",
                [(start, batch.end, *m) for m in batch.metrics],
            )
            conn.executemany(
                "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                [(batch_id, batch.end, payload, len(payload)) for batch_id, payload in batch.messages],
            )
            for table in ("open_counts", "open_visitors", "open_sensors", "open_support"):
                conn.execute(f"DELETE FROM {table} WHERE bucket_start = ?", (start,))
            self.closed.extend(batch_id for batch_id, _ in batch.messages)


def quarantine(conn: sqlite3.Connection, start: float, exc: BaseException) -> None:
    """Set a bucket that cannot be rendered aside with the reason; its open rows stay for inspection."""
    reason = f"{type(exc).__name__}: {str(exc)[:300]}"
    conn.execute(
        "INSERT OR REPLACE INTO quarantined_buckets(bucket_start, reason, at) VALUES (?, ?, ?)",
        (start, reason, time.time()),
    )
    log.error("aggregate bucket starting %s quarantined, the next buckets close as usual: %s", iso_utc(start), reason)


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
