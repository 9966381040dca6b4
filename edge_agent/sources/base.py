"""The one Source protocol every transport and simulator implements.

A source is one transport: `async with source.connect() as events: async for event in events`
is one session (a broker connection, an open port, a running scanner). The source's `link`
runs the sessions: when one fails it waits and connects again (`links.Link.run`), so a source
never writes a retry loop of its own. `info()` is what status shows of it beyond its link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..core.events import Acked, Event, SourceEvent
from ..links import Link

__all__ = ["Acked", "Event", "Source", "SourceEvent", "SourceInfo"]

Session = AbstractAsyncContextManager[AsyncIterator[SourceEvent]]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source reports besides its link."""

    dropped: int = 0  # inputs it had to discard under overload (counted, never silent)
    stale_after_s: float | None = None  # silent longer than this: its device is stale


@runtime_checkable
class Source(Protocol):
    """See the module docstring."""

    name: str
    link: Link

    def connect(self) -> Session:
        """One session: entered, it yields the events of this connection until it ends."""
        ...

    def info(self) -> SourceInfo: ...
