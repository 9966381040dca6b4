"""Bounded waits that poll for a condition instead of sleeping a guess."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], *, within: float = 20.0, every: float = 0.05) -> None:
    """Return once `predicate()` is true; fail after `within` seconds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the condition lives outside asyncio (files, brokers)
            await asyncio.sleep(every)


def wait_until(predicate: Callable[[], bool], *, within: float = 30.0, every: float = 0.1) -> None:
    """Blocking variant of `eventually` for tests that drive subprocesses."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        time.sleep(every)
