"""Rollups: the open bucket lives in SQLite; closing it writes aggregate rows and one outbox batch."""

from __future__ import annotations

from pathlib import Path

from edge_agent.aggregation.parts import SCHEMA
from edge_agent.aggregation.rollup import Aggregator, count, dwell
from edge_agent.store import Effects, Sample, StoreWriter, Visitor, Write, connect
from edge_agent.store.effects import open_counts
from edge_agent.testing.batches import valid_batch
from edge_agent.testing.components import running


def metrics_of(payload: dict) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[type-arg]
    (bucket,) = payload["buckets"]
    return {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in bucket["metrics"]}


async def test_bucket_closes_into_rows_and_a_batch(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    agg = Aggregator(store_id="s1", bucket_s=60, k_anonymity=2)
    async with running(StoreWriter(db)) as writer:
        assert agg.roll(3600.0) is not None  # opens the bucket [3600, 3660)
        bucket = agg.open_start
        assert bucket == 3600.0
        await writer.commit(
            Effects(
                visitors=(*(Visitor("anonymous", who) for who in "abc"), Visitor("known", "c-1")),
                counts=(*dwell("entrance", 120, "stay-a"), *dwell("entrance", 100, "stay-b")),
                samples=(Sample("th-1", "temperature", 20.0), Sample("th-1", "temperature", 22.0)),
            ),
            bucket,
        )
        await writer.commit(Effects(counts=(count("dead_letters", device="m1", reason="bad_json"),)), bucket)
        await writer.commit(Effects(visitors=(Visitor("anonymous", "a"),)), bucket)  # seen again: once
        assert agg.roll(3659.0) is None
        closing = agg.roll(3660.0)
        assert closing is not None
        await writer.commit(closing)
    assert agg.batches_written == 1
    conn = connect(db)
    (payload,) = [valid_batch(r[0]) for r in conn.execute("SELECT payload FROM outbox")]
    assert payload["schema"] == SCHEMA and payload["store_id"] == "s1"
    (bucket_json,) = payload["buckets"]
    assert (bucket_json["start"], bucket_json["end"]) == ("1970-01-01T01:00:00Z", "1970-01-01T01:01:00Z")
    metrics = metrics_of(payload)
    assert metrics[("footfall_visitors", (("kind", "anonymous"),))] == 3
    assert ("footfall_visitors", (("kind", "known"),)) not in metrics  # one known visitor: below k
    assert metrics[("dwell_seconds_bucket", (("le", "300"), ("zone", "entrance")))] == 2
    assert ("dwell_seconds_bucket", (("le", "60"), ("zone", "entrance"))) not in metrics  # 0 < k
    assert metrics[("sensor_mean", (("device", "th-1"), ("resource", "temperature")))] == 21.0
    assert metrics[("sensor_max", (("device", "th-1"), ("resource", "temperature")))] == 22.0
    assert metrics[("dead_letters", (("device", "m1"), ("reason", "bad_json")))] == 1  # not a person count
    kept = {r[0]: r[1] for r in conn.execute("SELECT name || labels, value FROM aggregates WHERE bucket_start = 3600")}
    assert len(kept) == len(bucket_json["metrics"]) + 1  # the box keeps what k-anonymity holds back from the cloud
    assert kept['footfall_visitors{"kind": "known"}'] == 1
    assert not open_counts(conn)  # the close cleared the open bucket in the same transaction
    assert conn.execute("SELECT COUNT(*) FROM open_visitors").fetchone()[0] == 0


async def test_open_bucket_survives_a_restart_and_is_closed_by_the_next_run(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    async with running(StoreWriter(db)) as writer:
        agg = Aggregator(store_id="s1", bucket_s=60, k_anonymity=1)
        agg.roll(10.0)
        await writer.commit(Effects(visitors=(Visitor("anonymous", "a"),), counts=(count("alerts_sent"),)), 0.0)
    async with running(StoreWriter(db)) as writer:  # a new run, the same minute
        agg = Aggregator(store_id="s1", bucket_s=60, k_anonymity=1)
        closing = agg.roll(20.0)
        assert closing is not None
        await writer.commit(closing)  # nothing before this bucket: no batch
        await writer.commit(Effects(visitors=(Visitor("anonymous", "b"),), counts=(count("alerts_sent"),)), 0.0)
    async with running(StoreWriter(db)) as writer:  # a run long after: the leftover bucket is closed at start
        agg = Aggregator(store_id="s1", bucket_s=60, k_anonymity=1)
        closing = agg.roll(7200.0)
        assert closing is not None
        await writer.commit(closing)
    conn = connect(db)
    (payload,) = [valid_batch(r[0]) for r in conn.execute("SELECT payload FROM outbox")]
    assert {m["name"]: m["value"] for m in payload["buckets"][0]["metrics"]} == {
        "footfall_visitors": 2,
        "alerts_sent": 2,
    }


async def test_a_redelivered_input_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    guard = Write(
        "INSERT OR IGNORE INTO events(ts, device_id, kind, payload, dedup_key) VALUES (1, 'm1', 'mirror', '{}', 'k1')"
    )
    async with running(StoreWriter(db)) as writer:
        first = await writer.commit(Effects(guard=guard, counts=(count("mirror_try_ons", sku="A"),)))
        again = await writer.commit(Effects(guard=guard, counts=(count("mirror_try_ons", sku="A"),)))
    assert (first, again) == (True, False)
    assert open_counts(connect(db)) == {("mirror_try_ons", (("sku", "A"),)): 1.0}


async def test_sender_chosen_labels_are_bounded_per_metric(tmp_path: Path) -> None:
    """A mirror inventing 5 000 SKUs cannot make a 5 000-label batch: the tail folds into `other`."""
    db = tmp_path / "a.db"
    agg = Aggregator(store_id="s1", bucket_s=60, k_anonymity=1)
    async with running(StoreWriter(db)) as writer:
        agg.roll(0.0)
        tries = tuple(
            count("mirror_try_ons", value=2 if i < 10 else 1, subject=f"session-{i}", sku=f"SKU-{i}")
            for i in range(5000)
        )
        await writer.commit(Effects(counts=tries), 0.0)
        closing = agg.roll(60.0)
        assert closing is not None
        await writer.commit(closing)
    (payload,) = [valid_batch(r[0]) for r in connect(db).execute("SELECT payload FROM outbox")]
    metrics = metrics_of(payload)
    assert len(metrics) == 300
    assert metrics[("mirror_try_ons", (("sku", "other"),))] == 4701  # the 4 701 smallest, folded
    assert metrics[("mirror_try_ons", (("sku", "SKU-0"),))] == 2  # the largest are kept by name
    assert sum(metrics.values()) == 5010
