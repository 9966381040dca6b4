"""Sales from a till (docs/interface.md): JSON on `{topic_prefix}/pos/{device_id}/sales` or `POST /api/pos/sales`."""

from __future__ import annotations

import time
from typing import Any

from ..core.errors import DecodeError
from ..core.events import Sale, SaleLine
from .jsonsafe import get_number, get_str, loads_object
from .mirror import parse_ts

MAX_LINES = 200
FIELDS = frozenset({"sale_id", "ts", "customer_ref", "lines", "offer_ids"})


def _line(value: Any, index: int) -> SaleLine:
    if not isinstance(value, dict):
        raise DecodeError("wrong_type", f"lines[{index}] must be an object")
    unknown = set(value) - {"sku", "qty", "amount"}
    if unknown:
        raise DecodeError("unknown_field", f"lines[{index}].{sorted(unknown)[0][:32]}")
    sku = get_str(value, "sku", max_len=64)
    qty = get_number(value, "qty", lo=1, hi=10_000)
    amount = get_number(value, "amount", lo=0, hi=10_000_000)
    assert sku is not None and qty is not None and amount is not None
    if not float(qty).is_integer():
        raise DecodeError("bad_value", f"lines[{index}].qty must be a whole number")
    return SaleLine(sku, int(qty), amount)


def decode_sale_object(device_id: str, data: dict[str, Any], now: float | None = None) -> Sale:
    now = time.time() if now is None else now
    unknown = set(data) - FIELDS
    if unknown:
        raise DecodeError("unknown_field", sorted(unknown)[0][:64])
    sale_id = get_str(data, "sale_id", max_len=128)
    customer_ref = get_str(data, "customer_ref", required=False, max_len=128)
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        raise DecodeError("missing_field" if lines is None else "wrong_type", "lines must be a non-empty list")
    if len(lines) > MAX_LINES:
        raise DecodeError("too_large", f"{len(lines)} lines > {MAX_LINES}")
    offer_ids = data.get("offer_ids") or []
    if not isinstance(offer_ids, list) or len(offer_ids) > 50:
        raise DecodeError("wrong_type", "offer_ids must be a list of at most 50 strings")
    if not all(isinstance(o, str) and 0 < len(o) <= 128 for o in offer_ids):
        raise DecodeError("wrong_type", "offer_ids must be strings")
    ts = parse_ts(data["ts"], now) if "ts" in data else now
    assert sale_id is not None
    return Sale(device_id, sale_id, ts, tuple(_line(v, i) for i, v in enumerate(lines)), customer_ref, tuple(offer_ids))


def decode_sale(device_id: str, payload: bytes, now: float | None = None) -> Sale:
    """Validate one sale payload; DecodeError with a reason on anything off-spec."""
    return decode_sale_object(device_id, loads_object(payload), now)
