"""Effects: everything one input changes, applied in one transaction before its ack runs.

A handler turns an input into an `Effects` value; the writer commits it (rows, counter deltas
for the open bucket, unique visitors, sensor statistics, and named store operations such as
teaching a learned profile or closing a bucket) and only then calls `on_commit`. An input with
a `guard` first claims its de-duplication key; when the guard inserts nothing (a redelivery, a
replayed nonce), nothing else of that input is applied and `on_commit(False)` runs, so the ack
still goes out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .rows import Write

Labels = tuple[tuple[str, str], ...]


class Operation(Protocol):
    """A named store operation whose inputs are its fields; it reads and writes in the input's transaction."""

    def apply(self, conn: sqlite3.Connection) -> None: ...


def labels_of(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


@dataclass(frozen=True, slots=True)
class Count:
    """A delta to one counter of the open bucket; `subject` is who stands behind it (a keyed hash
    of a person, session or sale, per bucket) so that k-anonymity counts people, not events."""

    name: str
    labels: Labels = ()
    value: float = 1.0
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Visitor:
    """A unique visitor of the open bucket (counted once however often it is seen)."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Sample:
    """A sensor value for the open bucket's min/mean/max."""

    device: str
    resource: str
    value: float


@dataclass(frozen=True, slots=True)
class Effects:
    """What one input changes; see the module docstring."""

    guard: Write | None = None
    writes: tuple[Write, ...] = ()
    counts: tuple[Count, ...] = ()
    visitors: tuple[Visitor, ...] = ()
    samples: tuple[Sample, ...] = ()
    ops: tuple[Operation, ...] = ()
    on_commit: Callable[[bool], None] | None = None
    urgent: bool = False  # someone waits (an alert, an HTTP answer): commit without the batching delay
    checkpoint: bool = False  # an erasure: move it into the database file and empty the WAL after COMMIT

    @property
    def has_aggregates(self) -> bool:
        return bool(self.counts or self.visitors or self.samples)


@dataclass(slots=True)
class _OpenBucket:
    """Aggregate deltas of several inputs, flushed into the open_* tables in one go."""

    counts: dict[tuple[float, str, str], float] = field(default_factory=dict)
    support: set[tuple[float, str, str, str]] = field(default_factory=set)
    visitors: set[tuple[float, str, str]] = field(default_factory=set)
    samples: dict[tuple[float, str, str], list[float]] = field(default_factory=dict)

    def add(self, effects: Effects, bucket: float) -> None:
        for c in effects.counts:
            key = (bucket, c.name, _labels_text(c.labels))
            self.counts[key] = self.counts.get(key, 0.0) + c.value
            if c.subject is not None:
                self.support.add((*key, c.subject))
        for v in effects.visitors:
            self.visitors.add((bucket, v.kind, v.key))
        for s in effects.samples:
            key = (bucket, s.device, s.resource)
            stats = self.samples.setdefault(key, [s.value, 0.0, s.value, 0])
            stats[0] = min(stats[0], s.value)
            stats[1] += s.value
            stats[2] = max(stats[2], s.value)
            stats[3] += 1

    def flush(self, conn: sqlite3.Connection) -> None:
        if self.counts:
            conn.executemany(
                "INSERT INTO open_counts(bucket_start, name, labels, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(bucket_start, name, labels) DO UPDATE SET value = value + excluded.value",
                [(*k, v) for k, v in self.counts.items()],
            )
        if self.support:
            conn.executemany(
                "INSERT OR IGNORE INTO open_support(bucket_start, name, labels, subject) VALUES (?, ?, ?, ?)",
                list(self.support),
            )
        if self.visitors:
            conn.executemany(
                "INSERT OR IGNORE INTO open_visitors(bucket_start, kind, key) VALUES (?, ?, ?)", list(self.visitors)
            )
        if self.samples:
            conn.executemany(
                "INSERT INTO open_sensors(bucket_start, device, resource, lo, total, hi, n) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(bucket_start, device, resource) DO UPDATE SET lo = min(lo, excluded.lo), "
                "total = total + excluded.total, hi = max(hi, excluded.hi), n = n + excluded.n",
                [(*k, *v) for k, v in self.samples.items()],
            )
        self.counts.clear()
        self.support.clear()
        self.visitors.clear()
        self.samples.clear()


def _labels_text(labels: Labels) -> str:
    text = _LABELS_TEXT.get(labels)
    if text is None:
        text = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))
        if len(_LABELS_TEXT) >= 4096:  # label sets are bounded per metric; this only caps the cache
            _LABELS_TEXT.clear()
        _LABELS_TEXT[labels] = text
    return text


_LABELS_TEXT: dict[Labels, str] = {}


def add_counts(
    conn: sqlite3.Connection, bucket: float, counts: list[tuple[str, dict[str, str], float]], subject: str | None
) -> None:
    """Counter deltas decided inside an operation (e.g. a sale's attribution), into the open bucket."""
    pending = _OpenBucket()
    pending.add(Effects(counts=tuple(Count(n, labels_of(**lb), v, subject) for n, lb, v in counts)), bucket)
    pending.flush(conn)


def apply_all(conn: sqlite3.Connection, units: Sequence[tuple[Effects, float]]) -> list[bool]:
    """Apply `units` (effects and the open bucket they count into) inside the caller's transaction;
    one flag per unit: False = a redelivery, skipped."""
    fresh: list[bool] = []
    pending = _OpenBucket()
    for unit, bucket in units:
        if unit.guard is not None and conn.execute(unit.guard.sql, unit.guard.params).rowcount != 1:
            fresh.append(False)
            continue
        fresh.append(True)
        for w in unit.writes:
            conn.execute(w.sql, w.params)
        if unit.ops:
            pending.flush(conn)  # an operation (closing a bucket) sees every delta before it
            for op in unit.ops:
                op.apply(conn)
        if unit.has_aggregates:
            pending.add(unit, bucket)
    pending.flush(conn)
    return fresh


def open_counts(conn: sqlite3.Connection, bucket: float | None = None) -> Mapping[tuple[str, Labels], float]:
    """The open bucket's counters (all open buckets when `bucket` is None), for status and tests."""
    sql = "SELECT name, labels, value FROM open_counts" + (" WHERE bucket_start = ?" if bucket is not None else "")
    out: dict[tuple[str, Labels], float] = {}
    for name, labels, value in conn.execute(sql, () if bucket is None else (bucket,)):
        key = (name, tuple(sorted(json.loads(labels).items())))
        out[key] = out.get(key, 0.0) + value
    return out
