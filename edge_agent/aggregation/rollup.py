"""Privacy-safe rollups: counter deltas for the open bucket, and what a closed bucket becomes.

The open bucket lives in SQLite (`open_counts`, `open_visitors`, `open_sensors`), updated in
the same transaction as the input that caused each delta, so a crash neither loses nor
doubles a count. Closing a bucket is one transaction too: aggregate rows, the outbox batch
and clearing the open rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..store import Count, Effects, labels_of
from ..store.buckets import Batch, CloseBuckets, CountRow, OpenBucket
from .parts import split

DWELL_BOUNDS = (60, 300, 900, 1800, 3600)
# k-anonymity, one rule for every metric: a value leaves the box only when at least
# `privacy.k_anonymity` distinct people (or sessions, or sales) stand behind it. Every count that
# rests on people is recorded with its subject (a keyed hash per bucket), so the rule counts who,
# not how often: one shopper trying a coat on five times is one person behind `mirror_try_ons`.
# Footfall is itself a number of distinct visitors. What is not about people passes as it is;
# a metric not named here is treated as personal (the safe default).
NOT_PERSONAL = frozenset({"sensor_min", "sensor_mean", "sensor_max", "dead_letters", "uplink_dropped_batches"})
COUNTS_VISITORS = frozenset({"footfall_visitors"})
PERSON_METRICS = frozenset(
    {
        "visits_decided", "visits_converted", "sales_amount", "sales", "offers_redeemed", "mirror_size_requests",
        "footfall_visitors", "dwell_seconds_bucket", "alerts_sent", "alert_actions", "offers_shown",
        "offers_accepted", "mirror_sessions", "mirror_try_ons", "mirror_likes",
        "social_looks", "social_votes", "social_votes_refused", "social_assisted_sales",
    }
)  # fmt: skip


def support_of(name: str, labels: tuple[tuple[str, str], ...], value: float, support: dict[Any, int]) -> int | None:
    """How many distinct people stand behind a value (None: not a metric about people)."""
    if name in NOT_PERSONAL:
        return None
    if name in COUNTS_VISITORS:
        return int(value)
    return support.get((name, labels), 0)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def count(name: str, value: float = 1, *, subject: str | None = None, **labels: str) -> Count:
    return Count(name, labels_of(**labels), value, subject)


def dwell(zone: str, seconds: float, subject: str | None = None) -> tuple[Count, ...]:
    """Cumulative histogram deltas (`le` buckets) for one stay in a zone (by `subject`)."""
    return tuple(
        Count("dwell_seconds_bucket", labels_of(zone=zone, le="+Inf" if bound == math.inf else str(bound)), 1, subject)
        for bound in (*DWELL_BOUNDS, math.inf)
        if seconds <= bound
    )


class Aggregator:
    """Knows the open bucket and turns a closed one into metrics and an uplink batch."""

    def __init__(
        self,
        *,
        store_id: str,
        bucket_s: int,
        k_anonymity: int,
        max_message_bytes: int = 131_072,
        header: Callable[[], Mapping[str, Any]] = lambda: {},
    ) -> None:
        self._store_id = store_id
        # the box's versions and health at the closing moment (docs/interface.md § Cloud batches);
        # read in memory while the bucket closes, never from disk
        self.header = header
        self._max_message_bytes = max_message_bytes
        self._bucket_s = bucket_s
        self._k = k_anonymity
        self.open_start: float | None = None
        self.batches_written = 0

    def start_of(self, now: float) -> float:
        return math.floor(now / self._bucket_s) * self._bucket_s

    def roll(self, now: float, on_closed: Callable[[list[str]], None] | None = None) -> Effects | None:
        """The effects closing every bucket before the one `now` is in, once per new bucket."""
        start = self.start_of(now)
        if self.open_start is not None and start <= self.open_start:
            return None
        self.open_start = start
        closed: list[str] = []

        def committed(_: bool) -> None:
            self.batches_written += len(closed)
            if closed and on_closed is not None:
                on_closed(closed)

        return Effects(ops=(CloseBuckets(start, self.render, closed),), on_commit=committed, urgent=True)

    def render(self, bucket: OpenBucket) -> Batch:
        """Metrics with k-anonymity applied, and the payload of docs/interface.md § Cloud batches."""
        end = bucket.start + self._bucket_s
        rows = [
            CountRow("footfall_visitors", labels_of(kind=kind), float(n)) for kind, n in sorted(bucket.visitors.items())
        ]
        rows.extend(bucket.counts)
        for s in bucket.sensors:
            rows += [
                CountRow("sensor_min", s.labels, s.lo),
                CountRow("sensor_mean", s.labels, s.total / s.n),
                CountRow("sensor_max", s.labels, s.hi),
            ]
        bounded, support = _bounded(rows, bucket.support)
        kept = [(n, lb, v) for n, lb, v in bounded if _anonymous_enough(support_of(n, lb, v, support), self._k)]
        metrics: list[dict[str, Any]] = [{"name": n, "labels": dict(lb), "value": _number(v)} for n, lb, v in kept]
        return Batch(
            end=end,
            # The box keeps every count for its own insights; k-anonymity applies to what leaves it.
            metrics=[(n, json.dumps(dict(lb), sort_keys=True), _number(v)) for n, lb, v in bounded],
            messages=tuple(
                split(self._store_id, iso(bucket.start), iso(end), metrics, self._max_message_bytes, self.header())
            ),
        )


Row = CountRow
MAX_LABEL_SETS = 300  # per metric and bucket: SKUs and the like are chosen by senders


def _bounded(rows: list[Row], support: dict[Any, int]) -> tuple[list[Row], dict[Any, int]]:
    """Per metric, the largest label sets; the rest summed into one with every label `other`
    (backed by the most people of any one of them: the merged sets may be the same people)."""
    by_name: dict[str, list[Row]] = {}
    for row in rows:
        by_name.setdefault(row.name, []).append(row)
    out: list[Row] = []
    support = dict(support)
    for name, group in by_name.items():
        if len(group) <= MAX_LABEL_SETS or name.startswith("sensor_"):
            out += group
            continue
        group.sort(key=lambda r: -r.value)
        rest = group[MAX_LABEL_SETS - 1 :]
        other = tuple((key, "other") for key, _ in rest[0].labels)
        support[(name, other)] = max(support.get((name, r.labels), 0) for r in rest)
        out += [*group[: MAX_LABEL_SETS - 1], CountRow(name, other, sum(r.value for r in rest))]
    return out, support


def _anonymous_enough(support: int | None, k: int) -> bool:
    return support is None or k <= 1 or support >= k


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
