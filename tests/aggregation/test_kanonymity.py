"""One k-anonymity rule for every metric: no value leaves the box with fewer than k distinct
people (or sessions, or sales) behind it — however often each of them was counted."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.aggregation.rollup import NOT_PERSONAL, Aggregator, count, dwell
from edge_agent.store import Effects, Visitor, connect
from edge_agent.store.buckets import CloseBuckets
from edge_agent.store.effects import apply_all
from edge_agent.testing.batches import valid_batch

K = 3
DB = Path(tempfile.mkdtemp(prefix="kanon-")) / "a.db"
CONN = connect(DB)
BUCKETS = itertools.count(1)

PEOPLE = st.sampled_from([f"p{i}" for i in range(6)])
LABELED = [
    ("mirror_try_ons", {"sku": "COAT"}), ("mirror_try_ons", {"sku": "SCARF"}), ("mirror_likes", {"sku": "COAT"}),
    ("mirror_size_requests", {"sku": "COAT"}), ("mirror_sessions", {"device": "m1"}), ("sales", {"device": "t1"}),
    ("sales_amount", {"group": "treatment"}), ("visits_decided", {"group": "holdout"}),
    ("visits_converted", {"group": "treatment"}), ("offers_shown", {"offer_id": "o1", "group": "treatment"}),
    ("offers_redeemed", {"offer_id": "o1", "group": "treatment"}), ("alerts_sent", {}),
    ("alert_actions", {"action": "accepted"}), ("dead_letters", {"device": "m1", "reason": "bad_json"}),
]  # fmt: skip
EVENT = st.tuples(st.sampled_from(LABELED), PEOPLE, st.floats(0.5, 500, allow_nan=False))


@settings(deadline=None)
@given(
    events=st.lists(EVENT, max_size=60),
    stays=st.lists(st.tuples(PEOPLE, st.floats(1, 7200)), max_size=20),
    visitors=st.lists(PEOPLE, max_size=20),
)
def test_no_uploaded_metric_rests_on_fewer_than_k_people(
    events: list[tuple[tuple[str, dict[str, str]], str, float]],
    stays: list[tuple[str, float]],
    visitors: list[str],
) -> None:
    start = float(next(BUCKETS) * 3600)
    effects = [Effects(counts=(count(name, value, subject=who, **labels),)) for (name, labels), who, value in events]
    effects += [Effects(counts=dwell("entrance", seconds, who)) for who, seconds in stays]
    effects += [Effects(visitors=(Visitor("known", who),)) for who in visitors]
    closed: list[str] = []
    aggregator = Aggregator(store_id="s", bucket_s=3600, k_anonymity=K)
    CONN.execute("BEGIN IMMEDIATE")
    apply_all(CONN, [(e, start) for e in effects])
    CloseBuckets(start + 3600, aggregator.render, closed).apply(CONN)
    CONN.execute("COMMIT")
    if not effects:
        assert closed == []  # nothing counted, nothing to send
        return
    (batch_id,) = closed
    payload = valid_batch(CONN.execute("SELECT payload FROM outbox WHERE batch_id = ?", (batch_id,)).fetchone()[0])
    behind: dict[tuple[str, str], set[str]] = defaultdict(set)  # who really stands behind each value
    for (name, labels), who, _ in events:
        behind[(name, json.dumps(labels, sort_keys=True))].add(who)
    for who, seconds in stays:
        for c in dwell("entrance", seconds):
            behind[(c.name, json.dumps(dict(c.labels), sort_keys=True))].add(who)
    for who in visitors:
        behind[("footfall_visitors", json.dumps({"kind": "known"}))].add(who)
    uploaded = [(m["name"], json.dumps(m["labels"], sort_keys=True)) for b in payload["buckets"] for m in b["metrics"]]
    for key in uploaded:
        if key[0] not in NOT_PERSONAL:
            assert len(behind[key]) >= K, (key, behind[key])
    for key, people in behind.items():  # and nothing that is backed by k people is held back
        if len(people) >= K or key[0] in NOT_PERSONAL:
            assert key in uploaded, key
