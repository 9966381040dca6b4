"""The one Source protocol every transport and simulator implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from ..backoff import LinkState
from ..lifecycle import Resource
from ..model import Advertisement, AlertAction, CheckIn, DeadLetter, MirrorEvent, SensorReading

Event = Advertisement | SensorReading | MirrorEvent | DeadLetter | CheckIn | AlertAction


@dataclass(frozen=True, slots=True)
class Acked:
    """An event whose transport wants an acknowledgement once it is durably handled."""

    event: Event
    ack: Callable[[], None]


SourceEvent = Event | Acked


@runtime_checkable
class Source(Protocol):
    """An async context manager that, once entered, yields normalised events."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def events(self) -> AsyncIterator[SourceEvent]:
        """Events until the source ends or is cancelled."""
        ...


class LinkedSource(Resource):
    """Lifecycle shared by sources with a connection: leaving marks the link stopped."""

    state: LinkState = LinkState.STOPPED

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.state = LinkState.STOPPED
