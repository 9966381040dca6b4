"""Links: the one connect–serve–retry loop every reconnecting connection runs.

`await link.run(connect, serve)` opens a session (`connect()` is an async context manager),
hands it to `serve`, and when either fails waits and tries again: capped exponential backoff
with jitter; a refused login or certificate goes straight to the long cap and says so once; a
session is only trusted — backoff reset, outage over — once it has stayed up for `stable_s`;
and a link with a client id that the broker keeps closing within seconds of connecting is in
*conflict* (another box uses the same client id), said once, backed off to the cap.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from ..core.component import OK, Health
from .failures import Failure, describe

log = logging.getLogger(__name__)

T = TypeVar("T")
CONFLICT_AFTER = 2  # short sessions closed by the peer in a row


class Identity:
    """The client ids one box uses on one broker. They share a fate: once one of them is taken
    over by another box, a single takeover of any other is a conflict too, not a coincidence."""

    def __init__(self) -> None:
        self._contested_until = 0.0
        self._rival_until = 0.0
        self.rival: str | None = None  # another box that announced itself with our identity

    def contest(self, for_s: float) -> None:
        self._contested_until = max(self._contested_until, time.monotonic() + for_s)

    @property
    def contested(self) -> bool:
        return time.monotonic() < max(self._contested_until, self._rival_until)

    @property
    def rivalled(self) -> bool:
        return time.monotonic() < self._rival_until

    def announced(self, who: str, for_s: float) -> bool:
        """Another box announced itself with this identity (links/presence.py); True when it is news."""
        news = not self.rivalled or self.rival != who
        self.rival = who
        self._rival_until = time.monotonic() + for_s
        return news


_IDENTITIES: dict[str, Identity] = {}


def identity_on(broker: str) -> Identity:
    """This process's identity on `broker` (a URL): shared by every link that connects there."""
    return _IDENTITIES.setdefault(broker, Identity())


class LinkState(StrEnum):
    """Connection states reported in `status`."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before the next attempt
    REFUSED = "refused"  # the other side refused our credentials or certificate; retrying at the long cap
    CONFLICT = "conflict"  # another client with our client id keeps taking the session over
    STOPPED = "stopped"


class Backoff:
    """Delays grow `initial * 2**n` up to `cap`; each is drawn uniformly from [initial/2, that]."""

    def __init__(self, initial: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return self._rng.uniform(min(self.initial / 2, ceiling), ceiling)

    def reset(self) -> None:
        self.attempts = 0


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """What `status`, `/metrics`, `/healthz` and `doctor` show of one link."""

    name: str
    state: LinkState
    attempts: int
    failures: int
    last_error: str | None
    connected_since: float | None
    client_id: str | None = None
    retry_in_s: float | None = None  # the wait chosen after the last failure
    connected: bool = False  # a session is up (also while the link is in conflict)

    @property
    def up(self) -> bool:
        return self.connected

    def health(self) -> Health:
        """A link in conflict makes the box unhealthy: it is fighting another box for its identity."""
        if self.state is LinkState.CONFLICT:
            return Health(
                "degraded",
                f"{self.name}: conflict: another box uses client id {self.client_id!r} (same store_id?)",
            )
        return OK

    def to_json(self) -> dict[str, Any]:
        return {
            "state": str(self.state),
            "attempts": self.attempts,
            "failures": self.failures,
            "last_error": self.last_error,
            "connected_since": self.connected_since,
            "connected": self.connected,
            "retry_in_s": None if self.retry_in_s is None else round(self.retry_in_s, 3),
            **({"client_id": self.client_id} if self.client_id else {}),
        }


class Link:
    """One reconnecting connection; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        initial: float = 1.0,
        cap: float = 60.0,
        long_cap: float = 300.0,
        stable_s: float = 10.0,
        client_id: str | None = None,
        identity: Identity | None = None,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.client_id = client_id
        self.identity = identity
        self.state = LinkState.STOPPED
        self.last_error: str | None = None
        self.failures = 0  # since start
        self.connected_since: float | None = None
        self._backoff = Backoff(initial=initial, cap=cap, rng=rng)
        self._long_cap = long_cap
        self._stable_s = stable_s
        self._log = logger or log
        self._down_since: float | None = None  # the current outage
        self._short_sessions = 0
        self._conflicts = 0  # waits taken in this conflict: cap, 2×cap, … up to the long cap
        self._rng = rng or random.Random()
        self._stable: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._said: str | None = None  # the refusal or conflict already logged this outage
        self._delay: float | None = None

    @property
    def attempts(self) -> int:
        """Failed attempts in the current outage."""
        return self._backoff.attempts

    @property
    def conflict(self) -> bool:
        rivalled = self.identity is not None and self.identity.rivalled
        return self._short_sessions >= CONFLICT_AFTER or rivalled

    @property
    def _trusted_after(self) -> float:
        """How long a session must stay up to be trusted: in conflict, longer than the other box waits."""
        return self._long_cap + self._stable_s if self.conflict else self._stable_s

    async def run(
        self, connect: Callable[[], AbstractAsyncContextManager[T]], serve: Callable[[T], Awaitable[None]]
    ) -> None:
        """Connect, serve, and on any failure wait and again — until `serve` returns (the link is done)."""
        try:
            while True:
                self.state = LinkState.CONNECTING
                up_at: float | None = None
                try:
                    async with connect() as session:
                        up_at = self._up()
                        await serve(session)
                    return
                except Exception as exc:  # noqa: BLE001 -- the one boundary of every link: describe, back off, retry
                    delay = self._down(exc, None if up_at is None else time.monotonic() - up_at)
                await self._sleep(delay)
        finally:
            self._cancel_stable()
            self.state = LinkState.STOPPED
            self.connected_since = None

    def wake(self) -> None:
        """Try again now instead of after the backoff (e.g. `sync now`)."""
        self._backoff.reset()
        self._wake.set()

    def status(self) -> LinkStatus:
        """The link as everyone sees it; while in conflict it says so even when it holds the session."""
        connected = self.state is LinkState.CONNECTED
        return LinkStatus(
            self.name,
            LinkState.CONFLICT if self.conflict and self.state is not LinkState.STOPPED else self.state,
            self.attempts,
            self.failures,
            self.last_error,
            self.connected_since,
            self.client_id,
            None if connected else self._delay,
            connected,
        )

    def _up(self) -> float:
        self.state = LinkState.CONNECTED
        self.connected_since = time.time()
        self._cancel_stable()
        self._stable = asyncio.get_running_loop().call_later(self._trusted_after, self._trusted)
        return time.monotonic()

    def _trusted(self) -> None:
        """The session stayed up: the outage (or conflict) is over."""
        self._stable = None
        if self.conflict:
            self._log.info("%s: no takeover for %.0fs; the client id conflict is over", self.name, self._trusted_after)
        elif self._down_since is not None:
            self._log.info(
                "%s: recovered after %d failed attempt(s), %.0fs",
                self.name,
                self._backoff.attempts,
                time.monotonic() - self._down_since,
            )
        self._down_since = None
        self._short_sessions = 0
        self._conflicts = 0
        self._said = None
        self._backoff.reset()

    def _cancel_stable(self) -> None:
        if self._stable is not None:
            self._stable.cancel()
            self._stable = None

    def _down(self, exc: BaseException, lasted: float | None) -> float:
        """Record a failure; the delay before the next attempt."""
        self._cancel_stable()
        failure = describe(exc)
        first = self._down_since is None
        if first:
            self._down_since = time.monotonic()
        self.failures += 1
        self.last_error = failure.text
        self.connected_since = None
        if lasted is not None:  # a session was up: was it taken over right away?
            taken_over = self.client_id is not None and failure.lost and lasted < self._trusted_after
            self._short_sessions = self._short_sessions + 1 if taken_over else 0
            if taken_over and self.identity is not None and self.identity.contested:
                self._short_sessions = max(self._short_sessions, CONFLICT_AFTER)
        if failure.conflict:  # the broker said so (MQTT 5): no need to count short sessions
            self._short_sessions = max(self._short_sessions, CONFLICT_AFTER)
        if failure.refused:
            self.state = LinkState.REFUSED
            delay = self._long_cap
        elif self.conflict:
            # Every reconnect takes the session from the other box again: wait long, and longer.
            self.state = LinkState.CONFLICT
            if self.identity is not None:
                self.identity.contest(self._long_cap)
            ceiling = min(self._long_cap, self._backoff.cap * 2 ** min(self._conflicts, 10))
            self._conflicts += 1
            delay = self._rng.uniform(0.75 * ceiling, ceiling)
        else:
            self.state = LinkState.WAITING
            delay = failure.retry_after if failure.retry_after is not None else self._backoff.next_delay()
        self._report(failure, first, delay, exc)
        self._delay = delay
        return delay

    def _report(self, failure: Failure, first: bool, delay: float, exc: BaseException) -> None:
        if failure.refused and self._said != failure.text:
            self._said = failure.text
            self._log.warning(
                "%s: %s; retrying every %.0fs until that is fixed", self.name, failure.text, self._long_cap
            )
        elif self.conflict and self._said != "conflict":
            self._said = "conflict"
            self._log.warning(
                "%s: the broker closed the session %d times within seconds of connecting: another box uses "
                "client id %r (same store_id? a cloned SD card or copied config); backing off up to %.0fs",
                self.name,
                self._short_sessions,
                self.client_id,
                self._long_cap,
            )
        else:
            self._log.log(
                logging.WARNING if first else logging.DEBUG,
                "%s: %s; retrying in %.1fs",
                self.name,
                failure.text,
                delay,
                exc_info=exc if first and failure.unexpected else None,
            )

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
