"""iBeacon (Apple's Proximity Beacon specification): manufacturer data of company 0x004C."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ..core.events import Advertisement
from . import MANUFACTURER_AD, AdvertFields, BeaconFormat, register

APPLE = 0x004C
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PREFIX = b"\x02\x15"


@dataclass(frozen=True, slots=True)
class IBeacon:
    uuid: str
    major: int
    minor: int
    measured_power: int

    @property
    def identifier(self) -> str:
        return f"{self.uuid}:{self.major}:{self.minor}"


def _uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def parse_ibeacon(data: bytes) -> IBeacon | None:
    """Apple manufacturer data (after the company id): 02 15, UUID, major, minor, power."""
    if len(data) != 23 or not data.startswith(_PREFIX):
        return None
    major, minor, power = struct.unpack(">HHb", data[18:23])
    return IBeacon(_uuid(data[2:18]), major, minor, power)


def ibeacon_payload(uuid: str, major: int, minor: int, measured_power: int = -59) -> bytes:
    """Encode an iBeacon manufacturer payload (for simulators and tests)."""
    return _PREFIX + bytes.fromhex(uuid.replace("-", "")) + struct.pack(">HHb", major, minor, measured_power)


def _read(adv: Advertisement) -> tuple[str, int | None] | None:
    data = adv.manufacturer_data.get(APPLE)
    frame = parse_ibeacon(data) if data is not None else None
    return (frame.identifier, frame.measured_power) if frame is not None else None


def _normalise(identifier: str) -> str:
    uuid, major, minor = identifier.split(":")
    if int(major) > 0xFFFF or int(minor) > 0xFFFF:
        raise ValueError(f"{identifier!r}: major and minor must be 0..65535")
    return f"{uuid.lower()}:{int(major)}:{int(minor)}"


def _encode(identifier: str) -> AdvertFields:
    uuid, major, minor = identifier.split(":")
    return {APPLE: ibeacon_payload(uuid, int(major), int(minor))}, {}


FORMAT = register(
    BeaconFormat(
        kind="ibeacon",
        profile="ibeacon-loyalty",
        pattern=re.compile(rf"^{UUID_RE}:\d{{1,5}}:\d{{1,5}}$"),
        expected="UUID:major:minor",
        read=_read,
        encode=_encode,
        passive=((0, MANUFACTURER_AD, b"\x4c\x00\x02\x15"),),  # BlueZ sees the company id first
        normalise=_normalise,
    )
)
