"""Rollups: buckets close into aggregate rows and one outbox batch; k-anonymity; restarts."""

from __future__ import annotations

import json
from pathlib import Path

from edge_agent.aggregation.rollup import SCHEMA, Aggregator
from edge_agent.store import StoreWriter, connect


async def test_bucket_closes_into_rows_and_a_batch(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    async with StoreWriter(db) as writer:
        agg = Aggregator(writer, store_id="s1", bucket_s=60, k_anonymity=2)
        for who in ("a", "b", "c"):
            agg.visitor("anonymous", who, 3600.0)
        agg.visitor("known", "c-1", 3601.0)  # one known visitor: below k, suppressed
        agg.dwell("entrance", 120, 3602.0)
        agg.dwell("entrance", 100, 3603.0)
        agg.sensor("th-1", "temperature", 20.0, 3604.0)
        agg.sensor("th-1", "temperature", 22.0, 3605.0)
        agg.count("dead_letters", 3606.0, device="m1", reason="bad_json")
        await agg.roll(3659.0)
        assert agg.batches_written == 0
        await agg.roll(3660.0)
        assert agg.batches_written == 1
    conn = connect(db)
    (payload,) = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM outbox")]
    assert payload["schema"] == SCHEMA and payload["store_id"] == "s1"
    (bucket,) = payload["buckets"]
    assert (bucket["start"], bucket["end"]) == ("1970-01-01T01:00:00Z", "1970-01-01T01:01:00Z")
    metrics = {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in bucket["metrics"]}
    assert metrics[("footfall_visitors", (("kind", "anonymous"),))] == 3
    assert ("footfall_visitors", (("kind", "known"),)) not in metrics
    assert metrics[("dwell_seconds_bucket", (("le", "300"), ("zone", "entrance")))] == 2
    assert ("dwell_seconds_bucket", (("le", "60"), ("zone", "entrance"))) not in metrics  # 0 < k
    assert metrics[("sensor_mean", (("device", "th-1"), ("resource", "temperature")))] == 21.0
    assert metrics[("sensor_max", (("device", "th-1"), ("resource", "temperature")))] == 22.0
    assert metrics[("dead_letters", (("device", "m1"), ("reason", "bad_json")))] == 1  # not a person count
    rows = conn.execute("SELECT COUNT(*) FROM aggregates WHERE bucket_start = 3600").fetchone()[0]
    assert rows == len(bucket["metrics"])


async def test_open_bucket_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    async with StoreWriter(db) as writer:
        agg = Aggregator(writer, store_id="s1", bucket_s=60, k_anonymity=1)
        agg.visitor("anonymous", "a", 10.0)
        agg.count("alerts_sent", 11.0)
        await agg.checkpoint()
    state = connect(db).execute("SELECT value FROM state WHERE key = ?", (Aggregator.state_key(),)).fetchone()[0]
    async with StoreWriter(db) as writer:
        agg = Aggregator(writer, store_id="s1", bucket_s=60, k_anonymity=1)
        agg.restore(state)
        agg.visitor("anonymous", "b", 20.0)
        agg.count("alerts_sent", 21.0)
        await agg.roll(60.0)
    conn = connect(db)
    (payload,) = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM outbox")]
    metrics = {m["name"]: m["value"] for m in payload["buckets"][0]["metrics"]}
    assert metrics == {"footfall_visitors": 2, "alerts_sent": 2}
    assert conn.execute("SELECT COUNT(*) FROM state").fetchone()[0] == 0
