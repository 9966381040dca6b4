"""Which devices may send, and quiet logging of their bad input."""

from __future__ import annotations

import sqlite3

from ..config import AgentConfig
from ..store import rows


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


class DeviceDirectory:
    """Registered devices, scanners named in zones, `local`, or anyone when auto_register is on."""

    def __init__(self, config: AgentConfig) -> None:
        self.auto_register = config.devices.auto_register
        self._scanners = {s for zone in config.zones for s in zone.scanners} | {"local"}
        self._zones: dict[str, str | None] = {}

    def load(self, reader: sqlite3.Connection) -> None:
        self._zones = rows.device_zones(reader)

    def zone_of(self, device_id: str) -> str | None:
        return self._zones.get(device_id)

    def register(self, device_id: str) -> None:
        self._zones.setdefault(device_id, None)

    def accepts(self, device_id: str) -> bool:
        return device_id in self._zones

    def accepts_scanner(self, scanner: str) -> bool:
        return scanner in self._scanners or scanner in self._zones
