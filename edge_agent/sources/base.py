"""The one Source protocol every transport and simulator implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from ..core.events import Acked, Event, SourceEvent
from ..core.lifecycle import Resource
from ..links import Link, LinkState

__all__ = ["Acked", "Event", "LinkedSource", "Source", "SourceEvent"]


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
    """Sources with a connection: one `Link` holds its state; leaving marks it stopped."""

    link: Link

    @property
    def state(self) -> LinkState:
        return self.link.state

    @property
    def last_error(self) -> str | None:
        return self.link.last_error

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.link.stopped()
