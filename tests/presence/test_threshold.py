"""The threshold presence engine (the spine's; the presence issue replaces it)."""

from __future__ import annotations

from edge_agent.model import BeaconId, BeaconSighting
from edge_agent.presence.threshold import ThresholdPresence

B = BeaconId("ibeacon", "u:1:1")


def sight(rssi: int, ts: float) -> BeaconSighting:
    return BeaconSighting(B, rssi, "local", ts)


def test_enters_only_above_the_enter_threshold() -> None:
    p = ThresholdPresence(enter_rssi=-75, exit_rssi=-85, exit_min_s=10)
    assert p.observe(sight(-80, 0), "entrance", 0) is None
    change = p.observe(sight(-70, 1), "entrance", 1.01)
    assert change is not None and change.state == "present" and change.zone == "entrance"
    assert change.decided_at == 1.01
    assert p.observe(sight(-60, 2), "entrance", 2) is None  # no second entry


def test_exits_after_silence_not_while_heard() -> None:
    p = ThresholdPresence(enter_rssi=-75, exit_rssi=-85, exit_min_s=10)
    p.observe(sight(-70, 0), "entrance", 0)
    for t in range(1, 20):
        p.observe(sight(-80, t), "entrance", t)  # weaker, but above the exit threshold
        assert p.tick(t) == []
    p.observe(sight(-95, 25), "entrance", 25)  # too weak to count as still here
    assert p.tick(29) == []
    (gone,) = p.tick(29.5)
    assert gone.state == "away" and gone.dwell_s == 19
    assert p.present == {}
