"""Generated BLE worlds for the demo and the tests: visitors walking past scanners."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .simulated import BeaconScript, Keyframe, Scenario

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
    return BeaconScript(address=visitor.address, ibeacon=visitor.ibeacon, interval_s=1.0, noise_db=2.0, path=path)


def store_day(
    known: list[str], *, anonymous: int, duration_s: float, seed: int = 7, stay_s: tuple[float, float] = (20, 90)
) -> Scenario:
    """Known iBeacons and anonymous phones arriving as a Poisson process over `duration_s`."""
    rng = random.Random(seed)
    beacons = []
    total = len(known) + anonymous
    rate = total / max(duration_s * 0.7, 1.0)
    t = 0.0
    idents: list[str | None] = [*known, *([None] * anonymous)]
    rng.shuffle(idents)
    for ident in idents:
        t += rng.expovariate(rate)
        address = ":".join(f"{b:02X}" for b in rng.randbytes(6))
        beacon_ident = ident or f"{_anonymous_uuid(rng)}:{rng.randrange(65536)}:{rng.randrange(65536)}"
        beacons.append(walk(Visitor(min(t, duration_s * 0.7), rng.uniform(*stay_s), beacon_ident, address)))
    return Scenario(duration_s=duration_s, seed=seed, beacons=beacons)


def _anonymous_uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
