"""A simulated store day for presence evaluation (and the demo's walking customers).

Radio model: three scanners (entrance at the door, aisles, fitting rooms); RSSI = -59 dBm at
1 m − 10·2.2·log10(d) − 10 dB through the shop window for people outside, + Gaussian noise
(σ 4 dB), multipath fades (15 % of packets −12 dB), phones in pockets (half of them −6 dB),
15 % of advertisements lost, 1 s advertising interval with jitter, nothing heard below
−100 dBm. Visitors approach along the street, cross the door, wander between the zones for
5–40 minutes and leave; passers-by walk along the street outside without entering.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

from ..config.agent import PresenceConfig
from ..core.events import BeaconId, BeaconSighting
from ..presence.engine import PresenceEngine

SCANNERS = {"entrance": (0.0, 0.0), "aisles": (15.0, 2.0), "fitting": (26.0, 6.0)}
ZONE_OF = {"entrance": "entrance", "aisles": "aisles", "fitting": "fitting-rooms"}
DOOR = (0.0, -2.0)
STREET_Y = -9.0
DAY_S = 10 * 3600


@dataclass
class Person:
    key: BeaconId
    known: bool
    visitor: bool
    pocket_db: float
    waypoints: list[tuple[float, float, float]]  # (t, x, y); linear between
    entered_at: float | None = None
    left_at: float | None = None


def position(p: Person, t: float) -> tuple[float, float]:
    w = p.waypoints
    for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(w):
        if t0 <= t <= t1:
            f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
    return w[-1][1], w[-1][2]


def make_visitor(
    rng: random.Random,
    i: int,
    known: bool,
    *,
    t0: float | None = None,
    stay_s: tuple[float, float] = (5 * 60, 40 * 60),
    browse_s: tuple[float, float] = (30, 240),
) -> Person:
    t0 = rng.uniform(0, DAY_S - 3600) if t0 is None else t0
    side = rng.choice((-1, 1))
    walk_in = 25 / 1.3  # 25 m along the street at 1.3 m/s
    door_t = t0 + walk_in + 3
    stay = rng.uniform(*stay_s)
    points = [(t0, side * 25.0, STREET_Y), (t0 + walk_in, 0.0, STREET_Y), (door_t, *DOOR)]
    t = door_t
    while t < door_t + stay:
        t += rng.uniform(10, 30)
        points.append((t, rng.uniform(2, 30), rng.uniform(-1, 9)))
        t += rng.uniform(*browse_s)  # browsing at one spot
        points.append((t, points[-1][1], points[-1][2]))
    exit_t = t + 15
    points += [(exit_t, *DOOR), (exit_t + 3, 0.0, STREET_Y), (exit_t + 3 + walk_in, -side * 25.0, STREET_Y)]
    person = Person(BeaconId("ibeacon", f"v-{i}"), known, True, -6.0 if rng.random() < 0.5 else 0.0, points)
    person.entered_at, person.left_at = door_t, exit_t
    return person


def make_passer(rng: random.Random, i: int, known: bool) -> Person:
    t0 = rng.uniform(0, DAY_S)
    side = rng.choice((-1, 1))
    y = STREET_Y + rng.uniform(-2, 1)
    points = [(t0, side * 30.0, y), (t0 + 60 / 1.3, -side * 30.0, y)]
    return Person(BeaconId("ibeacon", f"p-{i}"), known, False, -6.0 if rng.random() < 0.5 else 0.0, points)


def sightings(p: Person, rng: random.Random) -> Iterator[tuple[float, str, int]]:
    t = p.waypoints[0][0]
    end = p.waypoints[-1][0]
    while t < end:
        x, y = position(p, t)
        for scanner, (sx, sy) in SCANNERS.items():
            if rng.random() < 0.15:
                continue  # lost advertisement
            d = max(math.hypot(x - sx, y - sy), 0.5)
            rssi = -59 - 22 * math.log10(d) + p.pocket_db + rng.gauss(0, 4)
            if y < -3:
                rssi -= 10  # through the shop window
            if rng.random() < 0.15:
                rssi -= 12  # multipath fade
            if rssi >= -100:
                yield t, scanner, round(rssi)
        t += 1.0 + rng.uniform(0, 0.01)


def keyed(p: Person, rng: random.Random) -> Iterator[tuple[float, str, int, BeaconId]]:
    for t, scanner, rssi in sightings(p, rng):
        yield t, scanner, rssi, p.key


def evaluate(visitors: int, known_visitors: int, passers: int, known_passers: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    people = [make_visitor(rng, i, i < known_visitors) for i in range(visitors)]
    people += [make_passer(rng, i, i < known_passers) for i in range(passers)]
    by_key = {p.key: p for p in people}
    streams = [keyed(p, random.Random(rng.random())) for p in people]
    engine = PresenceEngine(PresenceConfig(), ZONE_OF)
    entries: dict[BeaconId, float] = {}
    false_exits = 0
    next_tick = 0.0
    for t, scanner, rssi, key in heapq.merge(*streams):
        while next_tick <= t:
            for change in engine.tick(next_tick):
                person = by_key[change.beacon]
                if person.visitor and person.left_at is not None and change.ts < person.left_at - 5:
                    false_exits += 1
            next_tick += 1.0
        for change in engine.observe(BeaconSighting(key, rssi, scanner, t), key, t):
            if change.state == "present" and key not in entries:
                entries[key] = t
    known = [p for p in people if p.known]
    tp = [p for p in known if p.visitor and p.key in entries]
    fp = [p for p in known if not p.visitor and p.key in entries]
    delays = [entries[p.key] - (p.entered_at or 0) for p in tp]
    hours = sum(((p.left_at or 0) - (p.entered_at or 0)) for p in people if p.visitor) / 3600
    return {
        "precision": round(len(tp) / max(len(tp) + len(fp), 1), 4),
        "recall": round(len(tp) / max(known_visitors, 1), 4),
        "delay_s_median": round(statistics.median(delays), 2) if delays else None,
        "delay_s_p95": round(sorted(delays)[int(0.95 * (len(delays) - 1))], 2) if delays else None,
        "false_exits_per_customer_hour": round(false_exits / max(hours, 1e-9), 4),
        "false_exits": false_exits,
        "customer_hours": round(hours, 1),
        "anonymous_passers_entered": sum(1 for p in people if not p.visitor and not p.known and p.key in entries),
        "visitors": visitors,
        "known_visitors": known_visitors,
        "passers_by": passers,
        "known_passers_by": known_passers,
    }


def mean_rssi(p: Person, t: float, scanner: str) -> float:
    """The model's RSSI without noise, fades or drops (the scenario player adds those)."""
    x, y = position(p, t)
    sx, sy = SCANNERS[scanner]
    rssi = -59 - 22 * math.log10(max(math.hypot(x - sx, y - sy), 0.5)) + p.pocket_db
    return rssi - 10 if y < -3 else rssi
