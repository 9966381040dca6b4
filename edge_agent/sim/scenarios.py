"""Generated BLE worlds for the demo and the tests: visitors walking past scanners."""

from __future__ import annotations

from dataclasses import dataclass

from .ble import BeaconScript, Keyframe

LOYALTY_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who walks in, when, and for how long; `ibeacon` is None for an anonymous phone."""

    arrive_s: float
    stay_s: float
    ibeacon: str | None
    address: str


def walk(visitor: Visitor, scanner: str = "local", near_dbm: float = -58, far_dbm: float = -95) -> BeaconScript:
    """Approach over 4 s, stay near the scanner, leave over 4 s."""
    t0, t1 = visitor.arrive_s, visitor.arrive_s + visitor.stay_s
    path = [
        Keyframe(t=t0, rssi=far_dbm, scanner=scanner),
        Keyframe(t=t0 + 4, rssi=near_dbm, scanner=scanner),
        Keyframe(t=t1, rssi=near_dbm, scanner=scanner),
        Keyframe(t=t1 + 4, rssi=far_dbm, scanner=scanner),
    ]
    return BeaconScript(
        address=visitor.address, identifiers=_ids(visitor.ibeacon), interval_s=1.0, noise_db=2.0, path=path
    )


def _ids(ibeacon: str | None) -> dict[str, str]:
    return {"ibeacon": ibeacon} if ibeacon else {}
