"""Bounded waits that poll for a condition instead of sleeping a guess."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(
    predicate: Callable[[], object | Awaitable[object]], *, within: float = 20.0, every: float = 0.05
) -> None:
    """Return once `predicate()` (or what it awaits to) is true; fail after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


def wait_until(predicate: Callable[[], bool], *, within: float = 30.0, every: float = 0.1) -> None:
    """Blocking variant of `eventually` for tests that drive subprocesses."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        time.sleep(every)
