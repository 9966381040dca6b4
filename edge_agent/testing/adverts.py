"""Advertisement and scenario factories for tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..decoders.beacons import APPLE, EDDYSTONE_UUID, eddystone_uid_payload, ibeacon_payload
from ..events import Advertisement
from ..sources.ble.scenarios import Visitor, walk
from ..sources.ble.simulated import Scenario


def ibeacon_advert(
    ident: str, rssi: int = -60, *, scanner: str = "local", ts: float = 0.0, address: str = "AA:BB:CC:DD:EE:01"
) -> Advertisement:
    """An advertisement carrying the iBeacon `UUID:major:minor`."""
    uuid, major, minor = ident.split(":")
    return Advertisement(address, rssi, scanner, ts, {APPLE: ibeacon_payload(uuid, int(major), int(minor))})


def eddystone_advert(
    ident: str, rssi: int = -60, *, scanner: str = "local", ts: float = 0.0, address: str = "AA:BB:CC:DD:EE:02"
) -> Advertisement:
    """An advertisement carrying the Eddystone-UID `namespace:instance`."""
    namespace, instance = ident.split(":")
    return Advertisement(address, rssi, scanner, ts, {}, {EDDYSTONE_UUID: eddystone_uid_payload(namespace, instance)})


def arrivals(*idents: str, first_at_s: float = 0.5, gap_s: float = 1.0, stay_s: float = 30.0) -> Scenario:
    """Each beacon walks up to the `local` scanner in turn and stays."""
    beacons = [
        walk(Visitor(first_at_s + i * gap_s, stay_s, ident, f"AA:BB:CC:00:00:{i:02X}"))
        for i, ident in enumerate(idents)
    ]
    return Scenario(duration_s=first_at_s + len(idents) * gap_s + stay_s + 8, beacons=beacons)


def write_scenario(path: Path, scenario: Scenario) -> Path:
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False))
    return path
