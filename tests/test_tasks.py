"""Stopping tasks: a cancellation swallowed once (aiomqtt's wait_for on Python 3.11) still stops them."""

from __future__ import annotations

import asyncio
import contextlib

from edge_agent.core.tasks import cancel_and_wait


async def swallows_the_first_cancel(started: asyncio.Event) -> None:
    """Like a publish whose PUBACK lands with the cancel: the first CancelledError is lost."""
    started.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.Event().wait()  # carries on as if nothing happened


async def test_a_swallowed_cancel_is_delivered_again() -> None:
    started = asyncio.Event()
    task = asyncio.create_task(swallows_the_first_cancel(started))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert not done  # one cancel is not enough: this is what hung the demo's teardown
    await cancel_and_wait([task])
    assert task.cancelled()


async def test_finished_and_running_tasks_alike() -> None:
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished
    running = asyncio.create_task(asyncio.sleep(3600))
    await cancel_and_wait([finished, running])
    assert running.cancelled() and finished.done() and not finished.cancelled()
