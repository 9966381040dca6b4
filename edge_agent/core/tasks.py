"""Cancelling tasks reliably on Python 3.11."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, rounds: int = 5) -> None:
    """Cancel `tasks` and wait until they are done, cancelling again if a cancel was lost.

    On Python 3.11 `asyncio.wait_for` (used inside libraries such as aiohttp and aiomqtt) swallows a
    cancellation that lands just as the awaited future completes; the task then carries on as
    if nothing happened and shutdown would hang. A second cancel is always delivered.
    """
    pending = [t for t in tasks if not t.done()]
    for attempt in range(rounds):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, still = await asyncio.wait(pending, timeout=1.0)
        pending = list(still)
        if not pending:
            return
        log.debug("cancel round %d: %s still running", attempt + 1, ", ".join(t.get_name() for t in pending))
    log.warning("tasks did not stop: %s", ", ".join(t.get_name() for t in pending))
