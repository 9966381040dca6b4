"""The shape of every long-lived part: an async context manager with `run()`, `drain()` and `status()`.

Entering a component acquires what it holds (a connection, a socket, a file); `run()` does its
work until it is cancelled (or, for a finite source, until it is done); `drain()` finishes what
it already accepted once `run()` has stopped; leaving releases. The agent runs every component
of the runtime in one TaskGroup and stops them upstream first. `status()` is all anyone outside
reads of a component: `status --json`, `/metrics`, `/healthz` and `doctor` are folds over it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self

Level = Literal["ok", "degraded", "failing"]


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a component can do its job; `reason` is one line for `/healthz` and `doctor`."""

    level: Level = "ok"
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.level == "ok"


OK = Health()


@dataclass(frozen=True, slots=True)
class Sample:
    """One Prometheus sample (the name without the `edge_agent_` prefix)."""

    name: str
    value: float | None  # for a histogram: the sum of observations; None declares an empty family
    labels: tuple[tuple[str, str], ...] = ()
    kind: Literal["counter", "gauge", "histogram"] = "counter"
    help: str = ""
    buckets: tuple[tuple[str, float], ...] = ()  # histogram: (upper bound, cumulative count)


class LinkReport(Protocol):
    """What a component's connection shows (`links.LinkStatus`)."""

    @property
    def name(self) -> str: ...

    @property
    def up(self) -> bool: ...

    @property
    def failures(self) -> int: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Status:
    """One component's state as everyone outside sees it.

    In `status --json` it is `section[key]` (or the section itself without a key, or merged
    into the top level with `merge`); its `link`, if any, is listed under `links` as well.
    """

    name: str
    section: str
    key: str | None = None
    state: str = "running"
    health: Health = OK
    link: LinkReport | None = None
    samples: tuple[Sample, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)
    merge: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.merge:
            return dict(self.body)
        return {"state": self.state, **self.body}


class Component:
    """Default behaviour of a component; subclasses set `name` and implement `status()`."""

    name: str
    critical = False  # its `run()` ending makes the agent unhealthy (and starves systemd's watchdog)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def run(self) -> None:
        """Work until cancelled; the default has nothing to do but be there."""
        await asyncio.Event().wait()

    async def drain(self) -> None:
        """`run()` was stopped: finish what was already accepted (the default has nothing)."""

    def status(self) -> Status:
        raise NotImplementedError
