"""A batch as the chain receives it: what the box writes parses; anything else is refused, never raised."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.aggregation.parts import split
from edge_agent.fleet.batches import Batch, Refused, parse

HEADER = {"agent_version": "0.1.0", "model_version": None,
          "health": {"store_writable": False, "links": {"uplink": "connected"}, "dead_letters": 2}}  # fmt: skip


def box_batch(**change: object) -> bytes:
    metrics = [{"name": "visits_decided", "labels": {"group": "treatment"}, "value": 12}]
    (_, payload), *_ = split(
        "store-7", "2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+00:00", metrics, 131_072, HEADER
    )
    return json.dumps({**json.loads(payload), **change}).encode()


def test_what_the_box_writes_parses_with_its_header() -> None:
    batch = parse(box_batch())
    assert isinstance(batch, Batch)
    assert (batch.store_id, batch.agent_version, batch.model_version) == ("store-7", "0.1.0", None)
    assert batch.health == HEADER["health"] and batch.metrics[0].value == 12.0
    assert batch.bucket_start.utcoffset() is not None


def test_refusals_say_why() -> None:
    assert parse(b"\xff not json") == Refused(parse(b"\xff not json").reason)  # type: ignore[union-attr]
    assert parse(b"\xff").reason.startswith("not JSON")  # type: ignore[union-attr]
    assert parse(box_batch(store_id=7)).reason.startswith("schema: store_id")  # type: ignore[union-attr]
    assert parse(box_batch(batch_id="x")).reason.startswith("schema: batch_id")  # type: ignore[union-attr]
    assert parse(b"[" * 100_000).reason  # type: ignore[union-attr]


json_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=12,
)


@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_parse_never_raises(payload: bytes) -> None:
    assert isinstance(parse(payload), Batch | Refused)
