"""Remote BLE scanner JSON (Theengs Gateway / OpenMQTTGateway) into Advertisements."""

from __future__ import annotations

import re
import time

from ..core.errors import DecodeError
from ..core.events import Advertisement
from .jsonsafe import get_number, get_str, loads_object

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")
_BASE_UUID = "-0000-1000-8000-00805f9b34fb"


def _hex(data: dict[str, object], key: str) -> bytes | None:
    value = get_str(data, key, required=False, max_len=1024)
    if value is None:
        return None
    if not _HEX.match(value):
        raise DecodeError("bad_value", f"{key} is not hex")
    return bytes.fromhex(value)


def service_uuid(value: str) -> str:
    """`0xfeaa`, `feaa`, `0000feaa` or a full UUID → the full lower-case UUID."""
    v = value.lower().removeprefix("0x")
    if re.fullmatch(r"[0-9a-f]{4}", v):
        return f"0000{v}{_BASE_UUID}"
    if re.fullmatch(r"[0-9a-f]{8}", v):
        return f"{v}{_BASE_UUID}"
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", v):
        return v
    raise DecodeError("bad_value", "servicedatauuid is not a UUID")


def decode_theengs(scanner: str, payload: bytes, now: float | None = None) -> Advertisement:
    """One scanner message; raises DecodeError with a reason on anything off-format."""
    data = loads_object(payload)
    address = get_str(data, "id", max_len=17)
    assert address is not None
    if not _MAC.match(address):
        raise DecodeError("bad_value", "id is not a MAC address")
    rssi = get_number(data, "rssi", lo=-127, hi=20)
    tx = get_number(data, "txpower", lo=-127, hi=20, required=False)
    manufacturer: dict[int, bytes] = {}
    mfg = _hex(data, "manufacturerdata")
    if mfg is not None:
        if len(mfg) < 2:
            raise DecodeError("truncated", "manufacturerdata shorter than a company id")
        manufacturer[int.from_bytes(mfg[:2], "little")] = mfg[2:]
    services: dict[str, bytes] = {}
    svc = _hex(data, "servicedata")
    if svc is not None:
        uuid = get_str(data, "servicedatauuid", max_len=40)
        assert uuid is not None
        services[service_uuid(uuid)] = svc
    assert rssi is not None
    return Advertisement(
        address=address.upper(),
        rssi=int(rssi),
        scanner=scanner,
        ts=time.time() if now is None else now,
        manufacturer_data=manufacturer,
        service_data=services,
        tx_power=int(tx) if tx is not None else None,
    )


_MAC_BYTES = re.compile(rb"(?<![0-9A-Fa-f])([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_NAME_BYTES = re.compile(rb'("(?:name|localname|local_name)"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_ble(sample: bytes) -> bytes:
    """A scanner payload kept as evidence without the phone's MAC address or device name."""
    return _NAME_BYTES.sub(rb'\1"(redacted)"', _MAC_BYTES.sub(b"xx:xx:xx:xx:xx:xx", sample))
