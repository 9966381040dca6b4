"""A source whose one session yields what a test scripts (the `Source` protocol, nothing else)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from ..core.events import SourceEvent
from ..links import Link
from ..sources.base import SourceInfo

Script = Callable[[], AsyncIterator[SourceEvent]]


class ScriptedSource:
    """`connect()` opens a session that yields `script()`; the source is done when it ends."""

    def __init__(self, name: str, script: Script) -> None:
        self.name = name
        self._script = script
        self.link = Link(f"{name}: script", initial=0.05, cap=0.5)
        self.sessions = 0

    def info(self) -> SourceInfo:
        return SourceInfo()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        self.sessions += 1
        yield self._script()
