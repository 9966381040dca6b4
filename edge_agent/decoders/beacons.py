"""BLE beacon frames: iBeacon, Eddystone (UID/URL/TLM) and AltBeacon.

Byte layouts follow Apple's Proximity Beacon specification, Google's Eddystone protocol
specification and the AltBeacon specification. Every function takes untrusted bytes and
returns a typed frame, or None when the bytes are not that kind of frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..core.events import Advertisement, BeaconId

APPLE = 0x004C
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
_IBEACON_PREFIX = b"\x02\x15"
_ALTBEACON_CODE = b"\xbe\xac"
_URL_SCHEMES = ("http://www.", "https://www.", "http://", "https://")
_URL_EXPANSIONS = (
    ".com/",
    ".org/",
    ".edu/",
    ".net/",
    ".info/",
    ".biz/",
    ".gov/",
    ".com",
    ".org",
    ".edu",
    ".net",
    ".info",
    ".biz",
    ".gov",
)


@dataclass(frozen=True, slots=True)
class IBeacon:
    uuid: str
    major: int
    minor: int
    measured_power: int

    @property
    def beacon_id(self) -> BeaconId:
        return BeaconId("ibeacon", f"{self.uuid}:{self.major}:{self.minor}")


@dataclass(frozen=True, slots=True)
class EddystoneUid:
    namespace: str
    instance: str
    tx_power: int

    @property
    def beacon_id(self) -> BeaconId:
        return BeaconId("eddystone", f"{self.namespace}:{self.instance}")


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


@dataclass(frozen=True, slots=True)
class AltBeacon:
    company_id: int
    beacon_id_hex: str
    reference_rssi: int
    mfg_reserved: int

    @property
    def beacon_id(self) -> BeaconId:
        return BeaconId("altbeacon", self.beacon_id_hex)


Eddystone = EddystoneUid | EddystoneUrl | EddystoneTlm


def _uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def parse_ibeacon(data: bytes) -> IBeacon | None:
    """Apple manufacturer data (after the company id): 02 15, UUID, major, minor, power."""
    if len(data) != 23 or not data.startswith(_IBEACON_PREFIX):
        return None
    major, minor, power = struct.unpack(">HHb", data[18:23])
    return IBeacon(_uuid(data[2:18]), major, minor, power)


def parse_altbeacon(company_id: int, data: bytes) -> AltBeacon | None:
    """Manufacturer data (after the company id): BE AC, 20-byte id, ref RSSI, reserved."""
    if len(data) != 24 or not data.startswith(_ALTBEACON_CODE):
        return None
    ref, reserved = struct.unpack(">bB", data[22:24])
    return AltBeacon(company_id, data[2:22].hex(), ref, reserved)


def parse_eddystone(data: bytes) -> Eddystone | None:
    """Service data for UUID 0xFEAA: frame type byte, then the frame."""
    if not data:
        return None
    frame = data[0]
    if frame == 0x00 and len(data) in (18, 20):
        (tx,) = struct.unpack(">b", data[1:2])
        return EddystoneUid(data[2:12].hex(), data[12:18].hex(), tx)
    if frame == 0x10 and 3 <= len(data) <= 20:
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
    if frame == 0x20 and len(data) == 14 and data[1] == 0x00:
        battery, temp_raw, count, uptime = struct.unpack(">HhII", data[2:14])
        temperature = None if temp_raw == -0x8000 else temp_raw / 256.0
        return EddystoneTlm(battery, temperature, count, uptime / 10.0)
    return None


def beacon_of(adv: Advertisement) -> tuple[BeaconId, int | None] | None:
    """The identifying beacon frame in an advertisement, with its calibrated power."""
    apple = adv.manufacturer_data.get(APPLE)
    if apple is not None:
        ib = parse_ibeacon(apple)
        if ib is not None:
            return ib.beacon_id, ib.measured_power
    eddy = adv.service_data.get(EDDYSTONE_UUID)
    if eddy is not None:
        frame = parse_eddystone(eddy)
        if isinstance(frame, EddystoneUid):
            return frame.beacon_id, frame.tx_power
    for company, data in adv.manufacturer_data.items():
        alt = parse_altbeacon(company, data)
        if alt is not None:
            return alt.beacon_id, alt.reference_rssi
    return None


def ibeacon_payload(uuid: str, major: int, minor: int, measured_power: int = -59) -> bytes:
    """Encode an iBeacon manufacturer payload (for simulators and tests)."""
    return _IBEACON_PREFIX + bytes.fromhex(uuid.replace("-", "")) + struct.pack(">HHb", major, minor, measured_power)


def eddystone_uid_payload(namespace: str, instance: str, tx_power: int = -20) -> bytes:
    """Encode an Eddystone-UID service-data payload (for simulators and tests)."""
    return b"\x00" + struct.pack(">b", tx_power) + bytes.fromhex(namespace) + bytes.fromhex(instance) + b"\x00\x00"


def altbeacon_payload(beacon_id_hex: str, reference_rssi: int = -59, reserved: int = 0) -> bytes:
    """Encode an AltBeacon manufacturer payload (for simulators and tests)."""
    return _ALTBEACON_CODE + bytes.fromhex(beacon_id_hex) + struct.pack(">bB", reference_rssi, reserved)
