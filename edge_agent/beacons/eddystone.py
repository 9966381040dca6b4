"""Eddystone (Google's protocol specification): service data for UUID 0xFEAA; UID identifies.

URL and TLM frames are parsed too (for `device scan` and tests), but only a UID names a beacon.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ..core.events import Advertisement
from . import SERVICE_DATA_16_AD, AdvertFields, BeaconFormat, register

EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_EXPANSIONS = (
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/",
    ".com", ".org", ".edu", ".net", ".info", ".biz", ".gov",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    namespace: str
    instance: str
    tx_power: int


@dataclass(frozen=True, slots=True)
class EddystoneUrl:
    url: str
    tx_power: int


@dataclass(frozen=True, slots=True)
class EddystoneTlm:
    battery_mv: int
    temperature_c: float | None
    adv_count: int
    uptime_s: float


Eddystone = EddystoneUid | EddystoneUrl | EddystoneTlm


def _url(data: bytes) -> EddystoneUrl | None:
    (tx,) = struct.unpack(">b", data[1:2])
    if data[2] >= len(_URL_SCHEMES):
        return None
    parts = [_URL_SCHEMES[data[2]]]
    for byte in data[3:]:
        if byte < len(_URL_EXPANSIONS):
            parts.append(_URL_EXPANSIONS[byte])
        elif 0x21 <= byte <= 0x7E:
            parts.append(chr(byte))
        else:
            return None
    return EddystoneUrl("".join(parts), tx)


def parse_eddystone(data: bytes) -> Eddystone | None:
    """Service data for UUID 0xFEAA: frame type byte, then the frame."""
    if not data:
        return None
    frame = data[0]
    if frame == 0x00 and len(data) in (18, 20):
        (tx,) = struct.unpack(">b", data[1:2])
        return EddystoneUid(data[2:12].hex(), data[12:18].hex(), tx)
    if frame == 0x10 and 3 <= len(data) <= 20:
        return _url(data)
    if frame == 0x20 and len(data) == 14 and data[1] == 0x00:
        battery, temp_raw, count, uptime = struct.unpack(">HhII", data[2:14])
        temperature = None if temp_raw == -0x8000 else temp_raw / 256.0
        return EddystoneTlm(battery, temperature, count, uptime / 10.0)
    return None


def eddystone_uid_payload(namespace: str, instance: str, tx_power: int = -20) -> bytes:
    """Encode an Eddystone-UID service-data payload (for simulators and tests)."""
    return b"\x00" + struct.pack(">b", tx_power) + bytes.fromhex(namespace) + bytes.fromhex(instance) + b"\x00\x00"


def _read(adv: Advertisement) -> tuple[str, int | None] | None:
    data = adv.service_data.get(EDDYSTONE_UUID)
    frame = parse_eddystone(data) if data is not None else None
    if isinstance(frame, EddystoneUid):
        return f"{frame.namespace}:{frame.instance}", frame.tx_power
    return None


def _encode(identifier: str) -> AdvertFields:
    namespace, instance = identifier.split(":")
    return {}, {EDDYSTONE_UUID: eddystone_uid_payload(namespace, instance)}


FORMAT = register(
    BeaconFormat(
        kind="eddystone",
        profile="eddystone-uid",
        pattern=re.compile(r"^[0-9a-fA-F]{20}:[0-9a-fA-F]{12}$"),
        expected="namespace:instance in hex (10:6 bytes)",
        read=_read,
        encode=_encode,
        passive=((0, SERVICE_DATA_16_AD, b"\xaa\xfe"),),
    )
)
