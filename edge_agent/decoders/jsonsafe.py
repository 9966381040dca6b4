"""Strict JSON for untrusted payloads: size, encoding, depth and number limits."""

from __future__ import annotations

import json
import math
from typing import Any

from ..core.errors import DecodeError

MAX_PAYLOAD = 64 * 1024
MAX_DEPTH = 16
MAX_INT_DIGITS = 20  # beyond any timestamp, count or amount; a 5000-digit number is an attack


def _reject_constant(name: str) -> Any:
    raise DecodeError("bad_number", f"{name} is not a number")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise DecodeError("bad_number", f"integer of {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DecodeError("bad_number", f"{text[:32]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_int, parse_float=_float)


def loads_object(payload: bytes) -> dict[str, Any]:
    """Parse a JSON object from bytes, or raise DecodeError with a short reason."""
    return loads_text(text_of(payload))


def text_of(payload: bytes) -> str:
    """The payload as text, within the size limit, or DecodeError."""
    if len(payload) > MAX_PAYLOAD:
        raise DecodeError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD}")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("bad_utf8", str(exc)) from None


def loads_text(text: str) -> dict[str, Any]:
    """A JSON object from text already within the limits of `text_of`, or DecodeError."""
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise DecodeError("too_deep", "nesting exceeds the parser's limit") from None
    except json.JSONDecodeError as exc:
        raise DecodeError("bad_json", f"{exc.msg} at {exc.pos}") from None
    if not isinstance(data, dict):
        raise DecodeError("bad_json", f"expected an object, got {type(data).__name__}")
    # Nesting cannot be deeper than the number of brackets: most payloads skip the walk.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise DecodeError("too_deep", f"nesting deeper than {MAX_DEPTH}")
    return data


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def get_str(data: dict[str, Any], key: str, *, required: bool = True, max_len: int = 256) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise DecodeError("missing_field", key)
        return None
    if not isinstance(value, str):
        raise DecodeError("wrong_type", f"{key} must be a string")
    if not value or len(value) > max_len:
        raise DecodeError("bad_value", f"{key} must be 1..{max_len} characters")
    return value


def get_number(data: dict[str, Any], key: str, *, lo: float, hi: float, required: bool = True) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise DecodeError("missing_field", key)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("wrong_type", f"{key} must be a number")
    if not lo <= value <= hi:  # False for NaN; compares huge integers without converting them
        raise DecodeError("out_of_range", f"{key}={value} outside {lo}..{hi}")
    return float(value)
