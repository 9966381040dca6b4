"""Remote BLE scanner JSON (Theengs Gateway / OpenMQTTGateway) into Advertisements.

Scanners publish either the raw advertisement (`manufacturerdata`, `servicedata`) or, with their
default settings, the beacon already decoded (`uuid`, `major`, `minor`, `txpower`). A decoded
iBeacon is turned back into the manufacturer data it came from, so that it is recognised exactly
as the raw frame would be, by the same beacon registry.
"""

from __future__ import annotations

import re
import time

from ..beacons.ibeacon import APPLE, ibeacon_payload
from ..core.errors import DecodeError
from ..core.events import Advertisement
from .jsonsafe import get_number, get_str, loads_object

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")
_BASE_UUID = "-0000-1000-8000-00805f9b34fb"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
DEFAULT_MEASURED_POWER = -59  # what most tags ship with, for a decoded iBeacon that omits its power


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


def ibeacon_fields(uuid: str, major: int, minor: int, measured_power: int | None) -> dict[int, bytes]:
    """The Apple manufacturer data of a decoded iBeacon. Theengs writes major and minor as signed
    16-bit numbers (0xF2FF as -3329), so both are taken modulo 65 536."""
    if not _UUID.match(uuid):
        raise DecodeError("bad_value", "uuid is not 32 hex digits")
    power = DEFAULT_MEASURED_POWER if measured_power is None else measured_power
    return {APPLE: ibeacon_payload(uuid.replace("-", ""), major % 65536, minor % 65536, power)}


def _decoded_ibeacon(data: dict[str, object]) -> dict[int, bytes]:
    uuid = get_str(data, "uuid", required=False, max_len=36)
    if uuid is None:
        return {}
    major = get_number(data, "major", lo=-32768, hi=65535)
    minor = get_number(data, "minor", lo=-32768, hi=65535)
    assert major is not None and minor is not None
    # decoded, `txpower` is the beacon's calibrated power at 1 m (older Theengs releases: `power`)
    power = get_number(data, "txpower", lo=-127, hi=127, required=False)
    if power is None:
        power = get_number(data, "power", lo=-127, hi=127, required=False)
    return ibeacon_fields(uuid, int(major), int(minor), None if power is None else int(power))


def _address(data: dict[str, object]) -> str:
    """The sender's MAC: `id`, or `mac` when the scanner was set to put the beacon's UUID in `id`."""
    address = get_str(data, "id", max_len=64)
    assert address is not None
    if _MAC.match(address):
        return address.upper()
    mac = get_str(data, "mac", required=False, max_len=17)
    if mac is not None and _MAC.match(mac):
        return mac.upper()
    if _UUID.match(address) and data.get("uuid") is not None:
        return f"uuid:{address.lower()}"  # no MAC published at all: the beacon stands for itself
    raise DecodeError("bad_value", "id is not a MAC address")


def decode_theengs(scanner: str, payload: bytes, now: float | None = None) -> Advertisement:
    """One scanner message; raises DecodeError with a reason on anything off-format."""
    data = loads_object(payload)
    address = _address(data)
    rssi = get_number(data, "rssi", lo=-127, hi=20)
    manufacturer: dict[int, bytes] = {}
    mfg = _hex(data, "manufacturerdata")
    tx: float | None = None
    if mfg is not None:
        if len(mfg) < 2:
            raise DecodeError("truncated", "manufacturerdata shorter than a company id")
        manufacturer[int.from_bytes(mfg[:2], "little")] = mfg[2:]
        tx = get_number(data, "txpower", lo=-127, hi=20, required=False)
    else:
        manufacturer = _decoded_ibeacon(data)
        if not manufacturer:
            tx = get_number(data, "txpower", lo=-127, hi=20, required=False)
    services: dict[str, bytes] = {}
    svc = _hex(data, "servicedata")
    if svc is not None:
        uuid = get_str(data, "servicedatauuid", max_len=40)
        assert uuid is not None
        services[service_uuid(uuid)] = svc
    assert rssi is not None
    return Advertisement(
        address=address,
        rssi=int(rssi),
        scanner=scanner,
        ts=time.time() if now is None else now,
        manufacturer_data=manufacturer,
        service_data=services,
        tx_power=int(tx) if tx is not None else None,
        rebuilt=mfg is None and bool(manufacturer),
    )


_MAC_BYTES = re.compile(rb"(?<![0-9A-Fa-f])([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_NAME_BYTES = re.compile(rb'("(?:name|localname|local_name)"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_ble(sample: bytes) -> bytes:
    """A scanner payload kept as evidence without the phone's MAC address or device name."""
    return _NAME_BYTES.sub(rb'\1"(redacted)"', _MAC_BYTES.sub(b"xx:xx:xx:xx:xx:xx", sample))
