"""Smart-mirror events (docs/interface.md § MQTT): JSON on `{topic_prefix}/mirror/{device_id}/events`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ..core.errors import DecodeError
from ..core.events import MirrorEvent
from ..mirror import Kind, kind_of
from .jsonsafe import get_str, loads_text, text_of

CIRCLES = frozenset({"companions", "remote", "both"})
VOTES = frozenset({"up", "down", "other_size", "other_colour"})
MAX_NICKNAME = 20
# Mirror clocks drift; anything further than this from ours is a broken clock, not an event time.
MAX_SKEW_S = 7 * 86400


FIELDS = frozenset({"event", "session_id", "sku", "ts", "customer_ref", "size", "circle", "nickname", "value"})


def parse_ts(value: object, now: float) -> float:
    """ISO-8601 (with or without offset; naive means UTC) or epoch seconds."""
    if isinstance(value, bool):
        raise DecodeError("wrong_type", "ts must be ISO-8601 or epoch seconds")
    if isinstance(value, int | float):
        ts = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise DecodeError("bad_value", "ts is not ISO-8601") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ts = parsed.timestamp()
    else:
        raise DecodeError("wrong_type", "ts must be ISO-8601 or epoch seconds")
    if not abs(ts - now) <= MAX_SKEW_S:  # also false for NaN
        raise DecodeError("out_of_range", f"ts {value!r} is more than 7 days from now")
    return ts


def decode_mirror(device_id: str, payload: bytes, now: float | None = None) -> MirrorEvent:
    """Validate one mirror payload; raises DecodeError with a reason on anything off-spec."""
    now = time.time() if now is None else now
    raw = text_of(payload)
    data = loads_text(raw)
    unknown = data.keys() - FIELDS
    if unknown:
        raise DecodeError("unknown_field", sorted(unknown)[0][:64])
    event = get_str(data, "event")
    kind = kind_of(event or "")
    if kind is None:
        raise DecodeError("unknown_event", str(event)[:64])
    session_id = get_str(data, "session_id", max_len=128)
    sku = get_str(data, "sku", required=kind.sku, max_len=64)
    customer_ref = get_str(data, "customer_ref", required=False, max_len=128)
    size = get_str(data, "size", required=False, max_len=32)
    ts = parse_ts(data["ts"], now) if "ts" in data else now
    assert event is not None and session_id is not None
    circle, nickname, value = _sharing(kind, data)
    return MirrorEvent(device_id, kind.name, session_id, ts, sku, customer_ref, size, circle, nickname, value, raw=raw)


def _sharing(kind: Kind, data: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """`share_start`'s circle and nickname, `friend_vote`'s value (SPEC §16)."""
    circle = get_str(data, "circle", required="circle" in kind.requires, max_len=16)
    if circle is not None and circle not in CIRCLES:
        raise DecodeError("bad_value", "circle must be companions, remote or both")
    nickname = get_str(data, "nickname", required=False, max_len=MAX_NICKNAME)
    value = get_str(data, "value", required="value" in kind.requires, max_len=16)
    if value is not None and value not in VOTES:
        raise DecodeError("bad_value", "value must be up, down, other_size or other_colour")
    return circle, nickname, value
