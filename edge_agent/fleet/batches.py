"""A batch as the chain receives it: bytes in, a validated `Batch` or the reason it was refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

MAX_PAYLOAD = 4 * 1024 * 1024  # a box never sends more than uplink.max_message_bytes; this bounds a hostile one


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: str
    store_id: str
    bucket_start: datetime
    bucket_end: datetime
    metrics: tuple[Metric, ...]
    group_id: str | None = None
    part: int | None = None
    parts: int | None = None
    agent_version: str | None = None
    model_version: str | None = None
    health: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("edge_agent.aggregation").joinpath("aggregates-v1.schema.json").read_text()
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker())


def parse(payload: bytes) -> Batch | Refused:
    """The batch in `payload`, checked against the shipped JSON Schema; never raises."""
    if len(payload) > MAX_PAYLOAD:
        return Refused(f"too large: {len(payload)} bytes")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return Refused(f"not JSON: {str(exc)[:200]}")
    try:
        _validator().validate(data)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "batch"
        return Refused(f"schema: {where}: {exc.message[:200]}")
    except RecursionError:
        return Refused("schema: nested too deep")
    if len(data["buckets"]) != 1:
        return Refused("schema: a box sends one bucket per batch")
    bucket = data["buckets"][0]
    try:
        start, end = datetime.fromisoformat(bucket["start"]), datetime.fromisoformat(bucket["end"])
    except ValueError as exc:
        return Refused(f"schema: buckets/0: {exc}")
    if start.tzinfo is None or end.tzinfo is None:
        return Refused("schema: buckets/0: start and end need a UTC offset")
    return Batch(
        batch_id=data["batch_id"],
        store_id=data["store_id"],
        bucket_start=start,
        bucket_end=end,
        metrics=tuple(Metric(m["name"], m["labels"], float(m["value"])) for m in bucket["metrics"]),
        group_id=data.get("group_id"),
        part=data.get("part"),
        parts=data.get("parts"),
        agent_version=data.get("agent_version"),
        model_version=data.get("model_version"),
        health=data.get("health"),
    )
