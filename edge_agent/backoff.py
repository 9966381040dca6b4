"""Reconnect policy: capped exponential backoff with full jitter, as its own small object."""

from __future__ import annotations

import random
from enum import StrEnum


class LinkState(StrEnum):
    """Connection states reported in `status`."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before the next attempt
    STOPPED = "stopped"


class Backoff:
    """Delays grow `initial * 2**n` up to `cap`; each is drawn uniformly from [initial/2, that]."""

    def __init__(self, initial: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * (2**self.attempts))
        self.attempts += 1
        return self._rng.uniform(min(self.initial / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempts = 0
