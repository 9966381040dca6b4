"""Events that arrive through the agent's own HTTP API (check-ins, staff actions), as a Source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..lifecycle import Resource
from ..model import AlertAction, CheckIn
from .base import Acked, SourceEvent

SUBMIT_TIMEOUT_S = 5.0


class InboxSource(Resource):
    """The HTTP handlers put events here; `submit` returns once the pipeline has stored them."""

    name = "http-inbox"

    def __init__(self, maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[SourceEvent] = asyncio.Queue(maxsize)

    async def submit(self, event: CheckIn | AlertAction) -> None:
        """Hand an event to the pipeline and wait until it is durably handled (or 5 s pass)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            if not done.done():
                done.set_result(None)

        await self._queue.put(Acked(event, ack))
        async with asyncio.timeout(SUBMIT_TIMEOUT_S):
            await done

    async def events(self) -> AsyncIterator[SourceEvent]:
        while True:
            yield await self._queue.get()
