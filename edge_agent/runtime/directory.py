"""Which devices may send, and quiet logging of their bad input."""

from __future__ import annotations

from ..config.agent import AgentConfig
from ..core.events import HTTP_API
from ..store import Database, rows


class BurstLog:
    """Log the first of a burst per key; stay quiet until it has been calm for a window."""

    def __init__(self, window_s: float, max_keys: int = 10_000) -> None:
        self._window_s = window_s
        self._max_keys = max_keys
        self._last: dict[tuple[str, str], float] = {}

    def first_in_burst(self, device: str, reason: str, ts: float) -> bool:
        key = (device, reason)
        last = self._last.get(key)
        self._last[key] = ts
        if len(self._last) > self._max_keys:
            self._last.clear()
        return last is None or ts - last > self._window_s


UNKNOWN = "unknown"  # every sender nobody registered is counted under this one label


class DeviceDirectory:
    """Registered devices, scanners named in zones, `local`, or (bounded) anyone when auto_register is on."""

    def __init__(self, config: AgentConfig) -> None:
        self._auto_register = config.devices.auto_register
        self._auto_left = config.devices.max_auto_registered
        self._scanners = {s for zone in config.zones for s in zone.scanners} | {"local"}
        self._zones: dict[str, str | None] = {}

    def load(self, reader: Database) -> None:
        self._zones = rows.device_zones(reader)

    def zone_of(self, device_id: str) -> str | None:
        return self._zones.get(device_id)

    def may_register(self) -> bool:
        return self._auto_register and self._auto_left > 0

    def register(self, device_id: str) -> None:
        if device_id not in self._zones:
            self._auto_left -= 1
            self._zones[device_id] = None

    def accepts(self, device_id: str) -> bool:
        return device_id in self._zones or device_id == HTTP_API

    def accepts_scanner(self, scanner: str) -> bool:
        return scanner in self._scanners or scanner in self._zones

    def label(self, device_id: str) -> str:
        """The device as a metric label: known ones by name, everyone else folded into one."""
        return device_id if self.accepts_scanner(device_id) else UNKNOWN


class RateLimiter:
    """A token bucket per device: `rate` events/s sustained, `burst` at once; a bounded number of buckets."""

    def __init__(self, rate: float, burst: int, max_devices: int = 4096) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_devices = max_devices
        self._buckets: dict[str, tuple[float, float]] = {}  # device → (tokens, at)

    def allow(self, device: str, now: float) -> bool:
        tokens, at = self._buckets.get(device, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1.0
        if len(self._buckets) >= self._max_devices and device not in self._buckets:
            self._buckets.clear()  # only registered devices get here; a full table is a misconfiguration
        self._buckets[device] = (tokens - 1.0 if allowed else tokens, now)
        return allowed


class Sampler:
    """At most `per_window` samples per (device, reason) and window; beyond that only counts are kept."""

    def __init__(self, per_window: int = 20, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self._per_window = per_window
        self._window_s = window_s
        self._max_keys = max_keys
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def take(self, device: str, reason: str, now: float) -> bool:
        key = (device, reason)
        start, taken = self._seen.get(key, (now, 0))
        if now - start > self._window_s:
            start, taken = now, 0
        if len(self._seen) >= self._max_keys and key not in self._seen:
            self._seen.clear()
        self._seen[key] = (start, taken + 1)
        return taken < self._per_window
