"""Reconnect policy: capped exponential backoff with full jitter, as its own small object."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


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


class Link:
    """One reconnecting connection: state, last error, attempts, jittered backoff, quiet logs.

    The first failure of an outage is a WARNING, the rest DEBUG, and the recovery one INFO line
    saying how long it took; `status()` reports every link the same way.
    """

    def __init__(
        self,
        name: str,
        *,
        initial: float = 1.0,
        cap: float = 60.0,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.state = LinkState.STOPPED
        self.last_error: str | None = None
        self.failures = 0  # since start
        self.connected_since: float | None = None
        self._backoff = Backoff(initial=initial, cap=cap, rng=rng)
        self._down_since: float | None = None
        self._log = logger or log

    @property
    def attempts(self) -> int:
        """Failed attempts in the current outage."""
        return self._backoff.attempts

    def connecting(self) -> None:
        self.state = LinkState.CONNECTING

    def up(self) -> None:
        if self.state is LinkState.CONNECTED and self._down_since is None:
            return
        if self._down_since is not None:
            self._log.info(
                "%s: recovered after %d failed attempt(s), %.0fs",
                self.name,
                self._backoff.attempts,
                time.monotonic() - self._down_since,
            )
        self._down_since = None
        self._backoff.reset()
        self.state = LinkState.CONNECTED
        self.connected_since = time.time()

    def down(self, error: BaseException | str, *, delay: float | None = None, traceback: bool = False) -> float:
        """Record a failure; the delay before the next attempt."""
        text = error if isinstance(error, str) else (str(error) or type(error).__name__)
        first = self._down_since is None
        if first:
            self._down_since = time.monotonic()
        self.failures += 1
        self.last_error = text
        self.state = LinkState.WAITING
        self.connected_since = None
        wait = self._backoff.next_delay() if delay is None else delay
        exc_info = error if traceback and first and isinstance(error, BaseException) else None
        self._log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: %s; retrying in %.1fs",
            self.name,
            text,
            wait,
            exc_info=exc_info,
        )
        return wait

    async def retry_after(
        self, error: BaseException | str, *, delay: float | None = None, traceback: bool = False
    ) -> None:
        await asyncio.sleep(self.down(error, delay=delay, traceback=traceback))

    def reset(self) -> None:
        """Try again at once next time (e.g. `sync now`)."""
        self._backoff.reset()

    def stopped(self) -> None:
        self.state = LinkState.STOPPED

    def status(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "attempts": self.attempts,
            "failures": self.failures,
            "last_error": self.last_error,
            "connected_since": self.connected_since,
        }
