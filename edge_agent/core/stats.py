"""Live counters of the running agent, served to `edge-agent status`."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SourceStats:
    state: str = "starting"
    events: int = 0
    restarts: int = 0
    last_event_ts: float | None = None
    last_error: str | None = None
    link: str | None = None  # connection state, for sources that have one
    stale: bool = False  # silent for longer than its profile allows
    dropped: int = 0  # inputs the source had to discard under overload (counted, never silent)


@dataclass(slots=True)
class AgentStats:
    started_at: float = field(default_factory=time.time)
    sources: dict[str, SourceStats] = field(default_factory=dict)
    device_events: Counter[str] = field(default_factory=Counter)
    device_last_ts: dict[str, float] = field(default_factory=dict)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    over_rate: Counter[str] = field(default_factory=Counter)  # events beyond a device's budget
    counters: Counter[str] = field(default_factory=Counter)
    present: dict[str, int] = field(default_factory=dict)  # people present per zone

    def source(self, name: str) -> SourceStats:
        return self.sources.setdefault(name, SourceStats())

    def device_event(self, device_id: str, ts: float) -> None:
        self.device_events[device_id] += 1
        self.device_last_ts[device_id] = ts

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        now = time.time()
        return {
            "running": True,
            "started_at": self.started_at,
            "uptime_s": round(now - self.started_at, 1),
            "sources": {
                name: {
                    "state": "stale" if s.stale and s.state == "running" else s.state,
                    "events": s.events,
                    "restarts": s.restarts,
                    "last_event_ts": s.last_event_ts,
                    "last_error": s.last_error,
                    "link": s.link,
                    "dropped": s.dropped,
                }
                for name, s in sorted(self.sources.items())
            },
            "devices": {
                d: {"events": n, "last_event_ts": self.device_last_ts.get(d), "over_rate": self.over_rate[d]}
                for d, n in sorted(self.device_events.items())
            },
            "dead_letters": [{"device": d, "reason": r, "count": n} for (d, r), n in sorted(self.dead_letters.items())],
            "counters": dict(sorted(self.counters.items())),
            "present": dict(sorted(self.present.items())),
            **extra,
        }
