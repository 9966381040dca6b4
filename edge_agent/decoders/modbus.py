"""Modbus RTU: CRC-16 and register values into readings, with types and scales from the profile."""

from __future__ import annotations

import math
import struct

from ..config.profiles import DeviceProfile, Resource
from ..core.errors import DecodeError
from ..core.events import SensorReading


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (polynomial 0xA001, initial 0xFFFF), as sent little-endian after the frame."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(body: bytes) -> bytes:
    """Append the CRC to an RTU frame body."""
    return body + crc16(body).to_bytes(2, "little")


def check_frame(data: bytes) -> str | None:
    """A reason if `data` is not a well-formed RTU frame, else None."""
    if len(data) < 4:
        return "truncated"
    if crc16(data[:-2]) != int.from_bytes(data[-2:], "little"):
        return "bad_crc"
    return None


def register_span(profile: DeviceProfile) -> tuple[int, int]:
    """(first register, count) covering every resource, to read them in one request."""
    starts = [r.address for r in profile.resources if r.address is not None]
    ends = [r.address + r.registers for r in profile.resources if r.address is not None]
    first = min(starts)
    return first, max(ends) - first


def _raw(resource: Resource, words: list[int]) -> float:
    packed = struct.pack(f">{len(words)}H", *words)
    fmt = {"int16": ">h", "uint16": ">H", "int": ">h", "bool": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
    value = float(struct.unpack(fmt.get(resource.type, ">H"), packed)[0])
    if not math.isfinite(value):
        raise DecodeError("bad_number", f"{resource.name} is not finite")
    return value


def decode_registers(
    profile: DeviceProfile, device_id: str, first: int, registers: list[int], ts: float
) -> tuple[list[SensorReading], list[DecodeError]]:
    """Readings for every resource in the block; a bad value fails only its own resource."""
    readings: list[SensorReading] = []
    errors: list[DecodeError] = []
    for resource in profile.resources:
        assert resource.address is not None
        offset = resource.address - first
        words = registers[offset : offset + resource.registers]
        try:
            if offset < 0 or len(words) != resource.registers:
                raise DecodeError("truncated", f"{resource.name}: register {resource.address} not in response")
            value = _raw(resource, words) * resource.scale + resource.offset
            lo, hi = resource.min, resource.max
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise DecodeError("out_of_range", f"{resource.name}={value:g} outside {lo}..{hi}")
        except DecodeError as exc:
            errors.append(exc)
            continue
        readings.append(SensorReading(device_id, resource.name, round(value, 6), ts, resource.unit))
    return readings, errors
