"""Presence: fast two-sample entry, learned-interval exit, zones with margin and dwell, stalled scanners."""

from __future__ import annotations

from edge_agent.config.agent import PresenceConfig
from edge_agent.core.events import BeaconId, BeaconSighting, PresenceChange
from edge_agent.presence.engine import PresenceEngine

B = BeaconId("ibeacon", "u:1:1")
ZONES = {"door": "entrance", "back": "fitting-rooms"}


def engine(**kw: float) -> PresenceEngine:
    return PresenceEngine(PresenceConfig(**kw), ZONES)  # type: ignore[arg-type]


def feed(e: PresenceEngine, rssi: int, ts: float, scanner: str = "door", key: BeaconId = B) -> list[PresenceChange]:
    return e.observe(BeaconSighting(key, rssi, scanner, ts), key, ts)


def test_entry_needs_two_strong_sightings_not_one_lucky_packet() -> None:
    e = engine()
    assert feed(e, -60, 0.0) == []  # a single strong packet (a passer-by's reflection) ...
    for t in range(1, 6):
        assert feed(e, -98, float(t)) == []  # ... followed by what a passer-by really sounds like
    walker = engine()
    assert feed(walker, -70, 0.0) == []  # the first packet only seeds the average
    assert feed(walker, -72, 1.0) == []
    (change,) = feed(walker, -71, 2.0)  # two strong averages in a row: in
    assert (change.state, change.zone) == ("present", "entrance")


def test_a_reflection_cannot_jump_the_average() -> None:
    e = engine()
    feed(e, -95, 0.0)
    feed(e, -40, 1.0)  # +55 dB in one packet: capped at +15
    assert feed(e, -40, 2.0) == []  # (-95 → -87.5 → -80.6): still not in


def test_exit_follows_the_beacons_own_interval() -> None:
    e = engine(exit_min_s=5, missed_intervals=10, scanner_silence_s=60)
    for i in range(40):
        feed(e, -60, i * 0.5)  # a fast beacon: every 0.5 s
    last = 19.5
    assert e.tick(last + 4.9) == []  # < 10 intervals of the learned ~0.5 s, and < exit_min_s
    (gone,) = e.tick(last + 5.5)
    assert gone.state == "away" and gone.zone == "entrance"
    slow = engine(exit_min_s=5, missed_intervals=10)
    neighbour = BeaconId("ibeacon", "u:9:9")  # keeps the scanner busy, so its silence means nothing
    for i in range(20):
        feed(slow, -60, i * 2.0)  # a slow beacon: every 2 s
    for i in range(80):
        feed(slow, -70, i * 1.0, key=neighbour)
    assert slow.tick(38 + 8) == []  # 8 s of silence is only 4 missed intervals for this one
    (gone,) = [c for c in slow.tick(38 + 25) if c.beacon == B]
    assert gone.state == "away"


def test_a_stalled_scanner_makes_its_visitors_unknown_not_exited() -> None:
    e = engine(exit_min_s=5, missed_intervals=5, scanner_silence_s=10)
    other = BeaconId("ibeacon", "u:2:2")
    for i in range(10):
        feed(e, -60, float(i))
        feed(e, -62, float(i), key=other)
    # The scanner stops reporting anyone (a hung BlueZ scan): no exits, just unknown.
    assert e.tick(30.0) == []
    assert set(e.unknown(30.0)) == {B, other}
    # It comes back and hears only `other`: B really left.
    feed(e, -61, 31.0, key=other)
    (gone,) = e.tick(31.5)
    assert gone.beacon == B and gone.state == "away"


def test_zone_switch_needs_margin_held_for_the_dwell() -> None:
    e = engine(zone_margin_db=6, zone_dwell_s=4)
    for t in range(4):
        feed(e, -60, float(t), "door")
    t = 4.0
    moves: list[PresenceChange] = []
    for _ in range(3):  # the back room is only 3 dB louder: no switch
        moves += feed(e, -66, t, "door")
        moves += feed(e, -63, t, "back")
        t += 1
    assert moves == []
    for _ in range(8):  # now clearly louder, held for more than the dwell
        moves += feed(e, -80, t, "door")
        moves += feed(e, -58, t, "back")
        t += 1
    (move,) = moves
    assert (move.state, move.zone, move.previous_zone) == ("moved", "fitting-rooms", "entrance")
    assert move.dwell_s is not None and move.dwell_s > 4


def test_people_behind_silent_scanners_count_as_unknown_and_are_forgotten_after_a_bound() -> None:
    e = engine(exit_min_s=5, missed_intervals=5, scanner_silence_s=10, unknown_expiry_s=600)
    for i in range(10):
        feed(e, -60, float(i))
    assert e.per_zone(9.0) == {"entrance": 1}
    assert e.tick(30.0) == [] and e.per_zone(30.0) == {"unknown": 1}  # not "present in the entrance"
    assert e.tick(500.0) == [] and e.per_zone(500.0) == {"unknown": 1}
    assert e.tick(700.0) == []  # the outage outlasted the bound: forgotten, without a made-up exit
    assert e.per_zone(700.0) == {} and e.present == {}
