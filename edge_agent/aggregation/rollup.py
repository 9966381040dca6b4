"""Privacy-safe rollups: counters per bucket, closed into aggregate rows and an outbox batch."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..store import StoreWriter, Write

log = logging.getLogger(__name__)

SCHEMA = "edge-agent/aggregates/v1"
DWELL_BOUNDS = (60, 300, 900, 1800, 3600)
# Metrics that count people; below k-anonymity they are suppressed.
PERSON_METRICS = frozenset(
    {
        "footfall_visitors",
        "dwell_seconds_bucket",
        "alerts_sent",
        "alert_actions",
        "offers_shown",
        "offers_accepted",
        "mirror_sessions",
        "mirror_try_ons",
        "mirror_likes",
    }
)
_STATE_KEY = "aggregator.open_bucket"

Labels = tuple[tuple[str, str], ...]


def _labels(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Bucket:
    start: float
    end: float
    counts: dict[tuple[str, Labels], float] = field(default_factory=dict)
    visitors: dict[str, set[str]] = field(default_factory=dict)
    carried_visitors: Counter[str] = field(default_factory=Counter)
    sensors: dict[Labels, list[float]] = field(default_factory=dict)  # [min, sum, max, n]

    def metrics(self, k: int) -> list[dict[str, Any]]:
        rows: list[tuple[str, Labels, float]] = []
        for kind in sorted(set(self.visitors) | set(self.carried_visitors)):
            unique = len(self.visitors.get(kind, ())) + self.carried_visitors[kind]
            rows.append(("footfall_visitors", _labels(kind=kind), unique))
        rows.extend((name, labels, value) for (name, labels), value in sorted(self.counts.items()))
        for labels, (lo, total, hi, samples) in sorted(self.sensors.items()):
            rows += [("sensor_min", labels, lo), ("sensor_mean", labels, total / samples), ("sensor_max", labels, hi)]
        return [
            {"name": name, "labels": dict(labels), "value": value}
            for name, labels, value in rows
            if not (name in PERSON_METRICS and value < k)
        ]

    def to_state(self) -> str:
        return json.dumps(
            {
                "start": self.start,
                "end": self.end,
                "counts": [[n, list(map(list, lb)), v] for (n, lb), v in self.counts.items()],
                "visitors": {k: len(v) + self.carried_visitors[k] for k, v in self.visitors.items()},
                "sensors": [[list(map(list, lb)), v] for lb, v in self.sensors.items()],
            }
        )

    @classmethod
    def from_state(cls, text: str) -> Bucket:
        data = json.loads(text)
        bucket = cls(data["start"], data["end"])
        for name, labels, value in data["counts"]:
            bucket.counts[(name, tuple((a, b) for a, b in labels))] = value
        bucket.carried_visitors.update(data["visitors"])
        for labels, value in data["sensors"]:
            bucket.sensors[tuple((a, b) for a, b in labels)] = value
        return bucket


class Aggregator:
    """Accumulates one bucket at a time; closing it writes aggregate rows and an outbox batch."""

    def __init__(self, writer: StoreWriter, *, store_id: str, bucket_s: int, k_anonymity: int) -> None:
        self._writer = writer
        self._store_id = store_id
        self._bucket_s = bucket_s
        self._k = k_anonymity
        self._bucket: Bucket | None = None
        self._now = 0.0
        self.batches_written = 0

    def restore(self, state: str | None) -> None:
        """Continue a bucket that was open when the agent stopped."""
        if state:
            self._bucket = Bucket.from_state(state)

    def _current(self, ts: float) -> Bucket:
        # Late events (a mirror's clock, a replayed backlog) count in the open bucket: a closed
        # bucket has already been sent and is never reopened.
        ts = max(ts, self._now)
        if self._bucket is None:
            start = math.floor(ts / self._bucket_s) * self._bucket_s
            self._bucket = Bucket(start, start + self._bucket_s)
        return self._bucket

    def count(self, name: str, ts: float, value: float = 1, **labels: str) -> None:
        counts = self._current(ts).counts
        key = (name, _labels(**labels))
        counts[key] = counts.get(key, 0) + value

    def visitor(self, kind: str, key: str, ts: float) -> None:
        self._current(ts).visitors.setdefault(kind, set()).add(key)

    def dwell(self, zone: str, seconds: float, ts: float) -> None:
        for bound in (*DWELL_BOUNDS, math.inf):
            if seconds <= bound:
                le = "+Inf" if bound == math.inf else str(bound)
                self.count("dwell_seconds_bucket", ts, zone=zone, le=le)

    def sensor(self, device: str, resource: str, value: float, ts: float) -> None:
        stats = self._current(ts).sensors.setdefault(_labels(device=device, resource=resource), [value, 0.0, value, 0])
        stats[0] = min(stats[0], value)
        stats[1] += value
        stats[2] = max(stats[2], value)
        stats[3] += 1

    async def roll(self, now: float) -> None:
        """Close the bucket if its end has passed."""
        self._now = max(self._now, now)
        if self._bucket is not None and now >= self._bucket.end:
            bucket, self._bucket = self._bucket, None
            await self._close(bucket)

    async def checkpoint(self) -> None:
        """Persist the open bucket so a restart continues it."""
        state = self._bucket.to_state() if self._bucket is not None else None
        if state is None:
            await self._writer.write(Write("DELETE FROM state WHERE key = ?", (_STATE_KEY,)))
        else:
            await self._writer.write(
                Write("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", (_STATE_KEY, state))
            )

    async def _close(self, bucket: Bucket) -> None:
        metrics = bucket.metrics(self._k)
        batch_id = uuid.uuid4().hex
        payload = json.dumps(
            {
                "schema": SCHEMA,
                "batch_id": batch_id,
                "store_id": self._store_id,
                "buckets": [{"start": iso(bucket.start), "end": iso(bucket.end), "metrics": metrics}],
            },
            separators=(",", ":"),
        )
        writes = [
            Write(
                "INSERT OR REPLACE INTO aggregates(bucket_start, bucket_end, name, labels, value) VALUES (?,?,?,?,?)",
                (bucket.start, bucket.end, m["name"], json.dumps(m["labels"], sort_keys=True), m["value"]),
            )
            for m in metrics
        ]
        writes.append(
            Write(
                "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                (batch_id, bucket.end, payload, len(payload)),
            )
        )
        writes.append(Write("DELETE FROM state WHERE key = ?", (_STATE_KEY,)))
        await self._writer.write(*writes)
        self.batches_written += 1
        log.info("closed bucket %s: %d metrics, batch %s", iso(bucket.start), len(metrics), batch_id)

    @staticmethod
    def state_key() -> str:
        return _STATE_KEY
