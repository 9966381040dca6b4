"""ESPresense room scanners: `espresense/devices/<id>/<room>` JSON into Advertisements.

ESPresense publishes what it recognised rather than the raw frame: `id` names the device
(`iBeacon:<uuid>-<major>-<minor>[-<power>]`, `eddy:<namespace>-<instance>`, or an id of its own
such as `apple:iphone13-2` for phones it fingerprints). Beacon ids are turned back into the frame
they came from, so the beacon registry recognises them exactly as it would the raw advertisement;
any other id is an anonymous device (an advertisement carrying no identifying frame).
"""

from __future__ import annotations

import re
import time

from ..beacons.eddystone import EDDYSTONE_UUID, eddystone_uid_payload
from ..core.errors import DecodeError
from ..core.events import Advertisement
from .jsonsafe import get_number, get_str, loads_object
from .theengs import DEFAULT_MEASURED_POWER, ibeacon_fields

_IBEACON = re.compile(
    r"^ibeacon:([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})-(\d{1,5})-(\d{1,5})(?:-(-?\d{1,3}))?$"
)
_EDDY = re.compile(r"^eddy:([0-9a-f]{20})-([0-9a-f]{12})$")
EDDYSTONE_0M_GAIN_DB = 41
_MAC = re.compile(r"^[0-9a-f]{12}$|^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _frames(device: str, power: int | None) -> tuple[dict[int, bytes], dict[str, bytes]]:
    """The manufacturer and service data the device id stands for (none for anonymous ids)."""
    lowered = device.lower()
    found = _IBEACON.match(lowered)
    if found is not None:
        uuid, major, minor, id_power = found.groups()
        if int(major) > 0xFFFF or int(minor) > 0xFFFF:
            raise DecodeError("out_of_range", "iBeacon major and minor must be 0..65535")
        measured = int(id_power) if id_power is not None else power
        if measured is not None and not -127 <= measured <= 127:
            raise DecodeError("out_of_range", "iBeacon power outside -127..127")
        return ibeacon_fields(uuid, int(major), int(minor), measured), {}
    found = _EDDY.match(lowered)
    if found is not None:
        namespace, instance = found.groups()
        # Eddystone calibrates at 0 m: the spec's rule is RSSI at 1 m plus 41 dB
        tx = (DEFAULT_MEASURED_POWER if power is None else power) + EDDYSTONE_0M_GAIN_DB
        return {}, {EDDYSTONE_UUID: eddystone_uid_payload(namespace, instance, max(-128, min(tx, 127)))}
    return {}, {}


def _address(data: dict[str, object], device: str) -> str:
    mac = get_str(data, "mac", required=False, max_len=17)
    if mac is not None and _MAC.match(mac.lower()):
        flat = mac.replace(":", "").upper()
        return ":".join(flat[i : i + 2] for i in range(0, 12, 2))
    return f"espresense:{device.lower()}"  # rotating phones have no stable MAC; the id stands in


def decode_espresense(room: str, payload: bytes, now: float | None = None) -> Advertisement:
    """One ESPresense message heard in `room` (the scanner); DecodeError with a reason otherwise."""
    data = loads_object(payload)
    device = get_str(data, "id", max_len=128)
    assert device is not None
    rssi = get_number(data, "rssi", lo=-127, hi=20)
    assert rssi is not None
    power = get_number(data, "rssi@1m", lo=-127, hi=127, required=False)
    manufacturer, services = _frames(device, None if power is None else int(power))
    return Advertisement(
        address=_address(data, device),
        rssi=int(rssi),
        scanner=room,
        ts=time.time() if now is None else now,
        manufacturer_data=manufacturer,
        service_data=services,
        rebuilt=True,
    )
