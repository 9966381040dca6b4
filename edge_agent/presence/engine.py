"""Presence: who is in the store and in which zone, from noisy, lossy BLE sightings.

Per tracked key (a customer, or an anonymous beacon) and scanner:
- a fast exponential average (α = 0.5) for quick entry, fed through a plausibility cap that
  limits any one sample's upward pull to +15 dB (a reflection cannot teleport a phone closer);
- entry when two consecutive fast averages reach `enter_rssi` (one lucky packet is not a visit);
- exit from missed advertisement intervals learned per key: silence longer than
  `missed_intervals` × the key's own interval (at least `exit_min_s`), or a slow median below
  `exit_rssi` — never a fixed two-minute timer;
- a scanner that hears nobody at all for `scanner_silence_s` is presumed stalled: its keys are
  *unknown*, not exited, until it reports again;
- zone switches only when another scanner's average beats the current zone's by `zone_margin_db`
  for `zone_dwell_s`.
"""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass, field

from ..config.agent import PresenceConfig
from ..core.events import BeaconId, BeaconSighting, PresenceChange

ALPHA = 0.5
JUMP_CAP_DB = 15.0
SLOW_WINDOW = 9


@dataclass(slots=True)
class _Link:
    """One key as heard by one scanner."""

    fast: float
    last: float
    # The newest RSSI samples as signed bytes: 89 bytes a link where a deque of floats took 976,
    # and a store holds a link per beacon and scanner (3 000 at a thousand beacons).
    slow: array[int] = field(default_factory=lambda: array("b"))

    def sample(self, rssi: int) -> None:
        self.slow.append(min(max(int(rssi), -128), 127))
        if len(self.slow) > SLOW_WINDOW:
            del self.slow[0]


@dataclass(slots=True)
class _Track:
    links: dict[str, _Link] = field(default_factory=dict)
    interval: float = 1.0
    last: float = 0.0
    strong_samples: int = 0
    present: bool = False
    zone: str | None = None
    zone_since: float = 0.0
    entered_at: float = 0.0
    challenger: str | None = None
    challenger_since: float = 0.0


class PresenceEngine:
    """Feed `observe()` with sightings and call `tick()` about once a second."""

    def __init__(self, config: PresenceConfig, zone_of: dict[str, str]) -> None:
        self._c = config
        self._zone_of = zone_of  # scanner → zone
        self._tracks: dict[BeaconId, _Track] = {}
        self._scanner_last: dict[str, float] = {}

    def observe(self, sighting: BeaconSighting, key: BeaconId, now: float) -> list[PresenceChange]:
        ts = sighting.ts
        self._scanner_last[sighting.scanner] = max(ts, self._scanner_last.get(sighting.scanner, 0.0))
        track = self._tracks.get(key)
        if track is None:
            if sighting.rssi < self._c.exit_rssi - 10:
                return []  # too faint to matter: do not even start tracking (bounded memory)
            track = self._tracks[key] = _Track(last=ts)
        elif ts > track.last:
            gap = ts - track.last
            if gap < 30:  # learn the advertising interval from gaps between sightings
                track.interval = 0.9 * track.interval + 0.1 * min(max(gap, 0.05), 10.0)
            track.last = ts
        link = track.links.get(sighting.scanner)
        rssi = float(sighting.rssi)
        if link is None:
            link = track.links[sighting.scanner] = _Link(fast=rssi, last=ts)
        else:
            capped = min(rssi, link.fast + JUMP_CAP_DB)  # a jump up is capped; a fade is believed
            link.fast = ALPHA * capped + (1 - ALPHA) * link.fast
            link.last = ts
        link.sample(sighting.rssi)
        changes: list[PresenceChange] = []
        if not track.present:
            best_scanner, best = self._best(track, ts)
            # The average must be strong on two successive sightings, and a link's first packet
            # only seeds it: one lucky packet is not a visit.
            strong = best >= self._c.enter_rssi and len(link.slow) >= 2
            track.strong_samples = track.strong_samples + 1 if strong else 0
            if track.strong_samples >= 2 and best_scanner is not None:
                zone = self._zone_of.get(best_scanner, best_scanner)
                track.present, track.zone, track.zone_since, track.entered_at = True, zone, ts, ts
                changes.append(PresenceChange(key, "present", zone, ts, best, decided_at=now))
        else:
            moved = self._maybe_move(key, track, ts, now)
            if moved is not None:
                changes.append(moved)
        return changes

    def _best(self, track: _Track, now: float) -> tuple[str | None, float]:
        fresh = [
            (link.fast, scanner) for scanner, link in track.links.items() if now - link.last <= 3 * track.interval + 1
        ]
        if not fresh:
            return None, -200.0
        value, scanner = max(fresh)
        return scanner, value

    def _maybe_move(self, key: BeaconId, track: _Track, ts: float, now: float) -> PresenceChange | None:
        scanner, best = self._best(track, ts)
        if scanner is None:
            return None
        zone = self._zone_of.get(scanner, scanner)
        if zone == track.zone:
            track.challenger = None
            return None
        current = max(
            (
                link.fast
                for s, link in track.links.items()
                if self._zone_of.get(s, s) == track.zone and ts - link.last <= 3 * track.interval + 1
            ),
            default=-200.0,
        )
        if best < current + self._c.zone_margin_db:
            track.challenger = None
            return None
        if track.challenger != zone:
            track.challenger, track.challenger_since = zone, ts
            return None
        if ts - track.challenger_since < self._c.zone_dwell_s:
            return None
        dwell = ts - track.zone_since
        previous = track.zone
        track.zone, track.zone_since, track.challenger = zone, ts, None
        return PresenceChange(key, "moved", zone, ts, best, decided_at=now, dwell_s=dwell, previous_zone=previous)

    def _stalled(self, scanner: str, now: float) -> bool:
        return now - self._scanner_last.get(scanner, now) > self._c.scanner_silence_s

    def tick(self, now: float) -> list[PresenceChange]:
        """Exits decided by silence or weakness; forgets tracks that never became visits."""
        changes: list[PresenceChange] = []
        for key in list(self._tracks):
            track = self._tracks[key]
            silence = now - track.last
            timeout = max(self._c.exit_min_s, self._c.missed_intervals * track.interval)
            if not track.present:
                if silence > timeout:
                    del self._tracks[key]
                continue
            if all(self._stalled(s, now) for s in track.links):
                # Every scanner that heard it is silent: unknown, not exited. Forgotten (no exit,
                # no dwell) once the outage outlasts `unknown_expiry_s`, so memory stays bounded.
                if silence > self._c.unknown_expiry_s:
                    del self._tracks[key]
                continue
            weak = all(
                len(link.slow) >= 3 and statistics.median(link.slow) < self._c.exit_rssi
                for link in track.links.values()
            )
            if silence > timeout or weak:
                del self._tracks[key]
                changes.append(
                    PresenceChange(
                        key,
                        "away",
                        track.zone,
                        now,
                        decided_at=now,
                        dwell_s=track.last - track.zone_since,
                        visit_s=track.last - track.entered_at,
                    )
                )
        return changes

    @property
    def present(self) -> dict[BeaconId, str | None]:
        return {k: t.zone for k, t in self._tracks.items() if t.present}

    def per_zone(self, now: float) -> dict[str, int]:
        """People present per zone; those whose scanners all went quiet count as `unknown`."""
        counts: dict[str, int] = {}
        for track in self._tracks.values():
            if not track.present:
                continue
            zone = "unknown" if all(self._stalled(s, now) for s in track.links) else (track.zone or "unknown")
            counts[zone] = counts.get(zone, 0) + 1
        return counts

    def unknown(self, now: float) -> list[BeaconId]:
        """Present keys whose scanners have all gone quiet."""
        return [k for k, t in self._tracks.items() if t.present and all(self._stalled(s, now) for s in t.links)]
