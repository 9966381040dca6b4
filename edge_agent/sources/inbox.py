"""Events that arrive through the agent's own HTTP API (check-ins, staff actions), as a Source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..core.events import (
    Acked,
    AlertAction,
    CheckIn,
    ConsentChange,
    FriendForgotten,
    FriendRemembered,
    FriendVote,
    Sale,
    SeatTaken,
    SourceEvent,
)
from ..links import Link
from .base import SourceInfo

Submitted = CheckIn | AlertAction | Sale | ConsentChange | FriendVote | SeatTaken | FriendRemembered | FriendForgotten

SUBMIT_TIMEOUT_S = 5.0


class InboxSource:
    """The HTTP handlers put events here; `submit` returns once the pipeline has stored them."""

    name = "http-inbox"

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[SourceEvent] = asyncio.Queue(maxsize)
        self.link = Link("http inbox")

    def info(self) -> SourceInfo:
        return SourceInfo()

    async def submit(self, event: Submitted) -> bool:
        """Hand an event to the pipeline and wait until its effects are committed (TimeoutError after 5 s).

        False when it changed nothing: a replayed nonce, an action already recorded.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def ack(fresh: bool) -> None:
            if not done.done():
                done.set_result(fresh)

        async with asyncio.timeout(SUBMIT_TIMEOUT_S):
            await self._queue.put(Acked(event, ack))
            return await done

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        yield self._events()

    async def _events(self) -> AsyncIterator[SourceEvent]:
        while True:
            yield await self._queue.get()
