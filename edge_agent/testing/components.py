"""Running one component on its own, as the agent would (tests and benchmarks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from ..core.component import Component
from ..core.tasks import cancel_and_wait

C = TypeVar("C", bound=Component)


@asynccontextmanager
async def running(component: C) -> AsyncIterator[C]:
    """Enter `component` and run it in a task; leaving stops it, lets it drain, then leaves it."""
    async with component:
        task = asyncio.create_task(component.run(), name=component.name)
        try:
            yield component
        finally:
            await cancel_and_wait([task])
            await component.drain()
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
