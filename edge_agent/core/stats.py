"""Live counters the pipeline keeps for `status` and `/metrics` (in memory; the store has the truth)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AgentStats:
    device_events: Counter[str] = field(default_factory=Counter)
    device_last_ts: dict[str, float] = field(default_factory=dict)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    over_rate: Counter[str] = field(default_factory=Counter)  # events beyond a device's budget
    counters: Counter[str] = field(default_factory=Counter)
    present: dict[str, int] = field(default_factory=dict)  # people present per zone

    def device_event(self, device_id: str, ts: float) -> None:
        self.device_events[device_id] += 1
        self.device_last_ts[device_id] = ts

    def snapshot(self) -> dict[str, Any]:
        return {
            "devices": {
                d: {"events": n, "last_event_ts": self.device_last_ts.get(d), "over_rate": self.over_rate[d]}
                for d, n in sorted(self.device_events.items())
            },
            "dead_letters": [{"device": d, "reason": r, "count": n} for (d, r), n in sorted(self.dead_letters.items())],
            "counters": dict(sorted(self.counters.items())),
            "present": dict(sorted(self.present.items())),
        }
