"""A simple threshold presence engine: enter above `enter_rssi`, leave after silence."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import BeaconId, BeaconSighting, PresenceChange


@dataclass(slots=True)
class _Track:
    zone: str
    entered_at: float
    last_strong: float
    rssi: float


class ThresholdPresence:
    """Enters on the first sighting at or above `enter_rssi`; exits when nothing at or above
    `exit_rssi` was heard for `exit_min_s`."""

    def __init__(self, enter_rssi: int, exit_rssi: int, exit_min_s: float) -> None:
        self._enter = enter_rssi
        self._exit = exit_rssi
        self._exit_min_s = exit_min_s
        self._tracks: dict[BeaconId, _Track] = {}

    def observe(self, sighting: BeaconSighting, zone: str, now: float) -> PresenceChange | None:
        track = self._tracks.get(sighting.beacon)
        if track is None:
            if sighting.rssi < self._enter:
                return None
            self._tracks[sighting.beacon] = _Track(zone, sighting.ts, sighting.ts, sighting.rssi)
            return PresenceChange(sighting.beacon, "present", zone, sighting.ts, sighting.rssi, decided_at=now)
        if sighting.rssi >= self._exit:
            track.last_strong = max(track.last_strong, sighting.ts)
            track.rssi = sighting.rssi
        return None

    def tick(self, now: float) -> list[PresenceChange]:
        gone = [b for b, t in self._tracks.items() if now - t.last_strong > self._exit_min_s]
        changes = []
        for beacon in gone:
            track = self._tracks.pop(beacon)
            changes.append(
                PresenceChange(
                    beacon, "away", track.zone, now, dwell_s=track.last_strong - track.entered_at, decided_at=now
                )
            )
        return changes

    @property
    def present(self) -> dict[BeaconId, str]:
        return {b: t.zone for b, t in self._tracks.items()}
