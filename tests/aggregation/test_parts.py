"""A bucket too large for the cloud broker becomes parts: each one fits, each one is a valid
batch, and every metric is in exactly one of them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.aggregation.parts import RESERVE_BYTES, split
from edge_agent.testing.batches import metrics_of, valid_batch

START, END = "2026-12-03T10:00:00Z", "2026-12-03T11:00:00Z"
label = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
metric = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["mirror_try_ons", "offers_shown", "dwell_seconds_bucket", "sales_amount"]),
        "labels": st.dictionaries(st.sampled_from(["sku", "offer_id", "group", "zone"]), label, max_size=3),
        "value": st.integers(0, 10**6) | st.floats(0, 1e6, allow_nan=False),
    }
)


def test_the_boxs_header_is_on_every_part() -> None:
    health = {"store_writable": False, "links": {"store-broker": "connected"}, "dead_letters": 4}
    header = {"agent_version": "1.2.3", "model_version": "2026.12.1", "health": health}
    metrics = [{"name": "mirror_try_ons", "labels": {"sku": f"SKU-{i:04d}"}, "value": 5} for i in range(400)]
    messages = split("store-1", START, END, metrics, 4096, header)
    assert len(messages) > 1
    for _, payload in messages:
        batch = valid_batch(payload)
        assert {k: batch[k] for k in header} == header


@given(st.lists(metric, max_size=400), st.integers(4096, 40_000))
def test_every_part_fits_is_valid_and_the_parts_add_up_to_the_bucket(metrics: list[dict], limit: int) -> None:  # type: ignore[type-arg]
    messages = split("store-1", START, END, metrics, limit)
    batches = [valid_batch(payload) for _, payload in messages]
    assert all(len(payload.encode()) <= limit - RESERVE_BYTES for _, payload in messages)
    assert [b["batch_id"] for b in batches] == [batch_id for batch_id, _ in messages]
    assert len({b["batch_id"] for b in batches}) == len(batches)
    assert [m for b in batches for m in b["buckets"][0]["metrics"]] == metrics  # each once, in order
    assert all(b["buckets"][0]["start"] == START and b["buckets"][0]["end"] == END for b in batches)
    if len(batches) == 1:
        assert "part" not in batches[0] and "group_id" not in batches[0]
    else:
        assert [b["part"] for b in batches] == list(range(1, len(batches) + 1))
        assert {b["parts"] for b in batches} == {len(batches)} and len({b["group_id"] for b in batches}) == 1


def test_a_week_of_skus_is_split_below_aws_iot_cores_limit() -> None:
    metrics = [{"name": "mirror_try_ons", "labels": {"sku": f"SKU-{i:06d}"}, "value": i} for i in range(9000)]
    messages = split("store-1", START, END, metrics, 131_072)
    assert len(messages) > 1 and all(len(p.encode()) <= 131_072 for _, p in messages)
    assert metrics_of([json.loads(p) for _, p in messages]) == metrics_of(
        [{"buckets": [{"start": START, "end": END, "metrics": metrics}]}]
    )


def test_a_single_metric_larger_than_the_limit_is_refused() -> None:
    huge = [{"name": "x", "labels": {"sku": "S" * 10_000}, "value": 1}]
    with pytest.raises(ValueError, match=r"larger than uplink\.max_message_bytes"):
        split("store-1", START, END, huge, 4096)
