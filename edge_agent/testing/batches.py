"""Cloud batches as a receiver sees them: each one checked against the shipped JSON Schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("edge_agent.aggregation").joinpath("aggregates-v1.schema.json").read_text()
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker())


def valid_batch(payload: bytes | str) -> dict[str, Any]:
    """The batch, after checking it against `aggregates-v1.schema.json` (raises if it does not match)."""
    batch: dict[str, Any] = json.loads(payload)
    _validator().validate(batch)
    return batch


def metrics_of(batches: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Every metric of every bucket, summed over batches (and over the parts of a split bucket)."""
    out: dict[tuple[str, str], float] = {}
    for batch in batches:
        for bucket in batch["buckets"]:
            for m in bucket["metrics"]:
                key = (m["name"], json.dumps(m["labels"], sort_keys=True))
                out[key] = out.get(key, 0) + m["value"]
    return out
