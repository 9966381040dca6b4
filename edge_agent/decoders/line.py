"""Line-protocol sensors: `key=value,...` or CSV, optionally `*XX` with an XOR checksum."""

from __future__ import annotations

import math

from ..config.profiles import DeviceProfile, Resource
from ..core.errors import DecodeError
from ..core.events import SensorReading

MAX_LINE = 1024


def xor_checksum(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def with_checksum(body: str) -> bytes:
    """Frame a line the way the devices do (for simulators and tests)."""
    raw = body.encode("ascii")
    return raw + f"*{xor_checksum(raw):02X}\n".encode()


def _value(resource: Resource, text: str) -> float:
    try:
        if resource.type == "bool":
            if text.lower() not in ("0", "1", "true", "false"):
                raise ValueError(text)
            raw = float(text.lower() in ("1", "true"))
        elif resource.type in ("int", "int16", "uint16", "int32", "uint32"):
            raw = float(int(text, 10))
        else:
            raw = float(text)
    except ValueError:
        raise DecodeError("bad_value", f"{resource.name}={text[:32]!r} is not a {resource.type}") from None
    except OverflowError:
        raise DecodeError("bad_number", f"{resource.name} is out of range") from None
    if not math.isfinite(raw):
        raise DecodeError("bad_number", f"{resource.name} is not finite")
    value = raw * resource.scale + resource.offset
    if (resource.min is not None and value < resource.min) or (resource.max is not None and value > resource.max):
        raise DecodeError("out_of_range", f"{resource.name}={value} outside {resource.min}..{resource.max}")
    return value


def decode_line(profile: DeviceProfile, device_id: str, line: bytes, ts: float) -> list[SensorReading]:
    """One line (without its newline) into readings; DecodeError with a reason otherwise."""
    assert profile.serial is not None
    if len(line) > MAX_LINE:
        raise DecodeError("too_large", f"line of {len(line)} bytes")
    body = line.rstrip(b"\r")
    if profile.serial.checksum == "xor":
        head, star, tail = body.rpartition(b"*")
        if not star:
            raise DecodeError("bad_checksum", "no *XX checksum")
        try:
            expected = int(tail, 16)
        except ValueError:
            raise DecodeError("bad_checksum", "checksum is not hex") from None
        if len(tail) != 2 or xor_checksum(head) != expected:
            raise DecodeError("bad_checksum", f"checksum {tail[:4]!r} does not match")
        body = head
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("bad_utf8", "line is not ASCII") from None
    if not text.strip():
        raise DecodeError("truncated", "empty line")
    by_key = {r.key or r.name: r for r in profile.resources}
    fields = text.split(",")
    if profile.serial.line_format == "kv":
        pairs: list[tuple[str, str]] = []
        for field in fields:
            key, eq, value = field.partition("=")
            if not eq:
                raise DecodeError("bad_value", f"{field[:32]!r} is not key=value")
            pairs.append((key.strip(), value.strip()))
    else:
        if len(fields) != len(profile.resources):
            raise DecodeError("truncated", f"{len(fields)} fields, expected {len(profile.resources)}")
        pairs = [(r.key or r.name, v.strip()) for r, v in zip(profile.resources, fields, strict=True)]
    readings = []
    for key, text_value in pairs:
        resource = by_key.get(key)
        if resource is None:
            raise DecodeError("unknown_field", key[:32])
        readings.append(SensorReading(device_id, resource.name, _value(resource, text_value), ts, resource.unit))
    return readings
