"""A closed bucket as uplink messages that each fit a cloud broker's limit.

AWS IoT Core refuses MQTT payloads over 128 KB and Azure IoT Hub over 256 KB; a busy hour with
thousands of SKUs and offers, or labels chosen by senders, can be larger. A bucket whose batch
would exceed `uplink.max_message_bytes` becomes several messages, each a whole, valid
`edge-agent/aggregates/v1` batch with its own `batch_id`, the same bucket bounds, and
`group_id`, `part` (1-based) and `parts`: the cloud may sum the parts as they come or wait for
all of them. Every metric is in exactly one part. The parts are written to the outbox in the
transaction that closes the bucket, so a crash between sending two of them loses nothing and
counts nothing twice (each part is de-duplicated by its own `batch_id`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

SCHEMA = "edge-agent/aggregates/v1"
# Room left in every message for what the drainer may add on the way out (the count of dropped
# batches), so that a message built to fit still fits when it leaves.
RESERVE_BYTES = 256


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def batch(store_id: str, start: str, end: str, metrics: Sequence[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "batch_id": uuid.uuid4().hex,
        "store_id": store_id,
        **extra,
        "buckets": [{"start": start, "end": end, "metrics": list(metrics)}],
    }


def split(
    store_id: str,
    start: str,
    end: str,
    metrics: Sequence[dict[str, Any]],
    max_bytes: int,
    header: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """(batch_id, payload) of each message; one when the whole batch fits. `header` (the box's
    versions and health) goes on every part, so each part tells operations about its box."""
    extra = dict(header or {})
    whole = batch(store_id, start, end, metrics, **extra)
    text = _dumps(whole)
    limit = max_bytes - RESERVE_BYTES
    if len(text.encode()) <= limit:
        return [(whole["batch_id"], text)]
    group_id = uuid.uuid4().hex
    frame = _dumps(batch(store_id, start, end, [], group_id=group_id, part=999_999, parts=999_999, **extra))
    room = limit - len(frame.encode())
    chunks: list[list[dict[str, Any]]] = [[]]
    used = 0
    for metric in metrics:
        size = len(_dumps(metric).encode()) + 1  # and its comma
        if size > room:
            raise ValueError(f"one metric ({size} bytes) is larger than uplink.max_message_bytes allows")
        if used + size > room and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(metric)
        used += size
    out = []
    for n, chunk in enumerate(chunks, 1):
        part = batch(store_id, start, end, chunk, group_id=group_id, part=n, parts=len(chunks), **extra)
        out.append((part["batch_id"], _dumps(part)))
    return out
