"""AltBeacon (the open AltBeacon specification): manufacturer data of any company, code BE AC."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from ..core.events import Advertisement
from . import MANUFACTURER_AD, AdvertFields, BeaconFormat, register

_CODE = b"\xbe\xac"
RADIUS_NETWORKS = 0x0118  # the company id simulated tags use


@dataclass(frozen=True, slots=True)
class AltBeacon:
    company_id: int
    beacon_id_hex: str
    reference_rssi: int
    mfg_reserved: int


def parse_altbeacon(company_id: int, data: bytes) -> AltBeacon | None:
    """Manufacturer data (after the company id): BE AC, 20-byte id, ref RSSI, reserved."""
    if len(data) != 24 or not data.startswith(_CODE):
        return None
    ref, reserved = struct.unpack(">bB", data[22:24])
    return AltBeacon(company_id, data[2:22].hex(), ref, reserved)


def altbeacon_payload(beacon_id_hex: str, reference_rssi: int = -59, reserved: int = 0) -> bytes:
    """Encode an AltBeacon manufacturer payload (for simulators and tests)."""
    return _CODE + bytes.fromhex(beacon_id_hex) + struct.pack(">bB", reference_rssi, reserved)


def _read(adv: Advertisement) -> tuple[str, int | None] | None:
    for company, data in adv.manufacturer_data.items():
        frame = parse_altbeacon(company, data)
        if frame is not None:
            return frame.beacon_id_hex, frame.reference_rssi
    return None


def _encode(identifier: str) -> AdvertFields:
    return {RADIUS_NETWORKS: altbeacon_payload(identifier)}, {}


FORMAT = register(
    BeaconFormat(
        kind="altbeacon",
        profile="altbeacon",
        pattern=re.compile(r"^[0-9a-fA-F]{40}$"),
        expected="the 20-byte beacon id in hex",
        read=_read,
        encode=_encode,
        passive=((2, MANUFACTURER_AD, b"\xbe\xac"),),  # after any two-byte company id
    )
)
