"""Advertisement and scenario factories for tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..beacons import advert_fields
from ..core.events import Advertisement
from .ble import Scenario
from .scenarios import Visitor, walk


def ibeacon_advert(
    ident: str, rssi: int = -60, *, scanner: str = "local", ts: float = 0.0, address: str = "AA:BB:CC:DD:EE:01"
) -> Advertisement:
    """An advertisement carrying the iBeacon `UUID:major:minor`."""
    return beacon_advert("ibeacon", ident, rssi, scanner=scanner, ts=ts, address=address)


def beacon_advert(
    kind: str,
    ident: str,
    rssi: int = -60,
    *,
    scanner: str = "local",
    ts: float = 0.0,
    address: str = "AA:BB:CC:DD:EE:01",
) -> Advertisement:
    """An advertisement carrying identifier `ident` in beacon format `kind`."""
    mfg, svc = advert_fields({kind: ident})
    return Advertisement(address, rssi, scanner, ts, mfg, svc)


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
