"""The one retry loop: how long it waits, when it trusts a session again, and what it says."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from edge_agent.core.errors import LinkError
from edge_agent.links import Link, LinkState
from edge_agent.testing.wait import eventually


class Peer:
    """A connection that fails at connect or later, as a test says."""

    def __init__(self, *, refuse: bool = False, drop_after: float | None = None, done_after: int | None = None) -> None:
        self.refuse = refuse
        self.drop_after = drop_after
        self.done_after = done_after
        self.attempts = 0

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Peer]:
        self.attempts += 1
        if self.refuse:
            raise LinkError("bad user name or password", refused=True)
        yield self

    async def serve(self, _: Peer) -> None:
        if self.done_after is not None and self.attempts >= self.done_after:
            return
        if self.drop_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.drop_after or 0)
        raise LinkError("connection closed by the broker", lost=True)


async def run_until(link: Link, peer: Peer, condition: object) -> asyncio.Task[None]:
    task = asyncio.create_task(link.run(peer.connect, peer.serve))
    await eventually(condition)  # type: ignore[arg-type]
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_refused_login_waits_at_the_long_cap_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    link = Link("store broker", initial=0.01, cap=0.02, long_cap=0.05)
    peer = Peer(refuse=True)
    with caplog.at_level(logging.DEBUG):
        task = await run_until(link, peer, lambda: peer.attempts >= 4)
        await stop(task)
    assert link.state is LinkState.STOPPED
    said = [r for r in caplog.records if "retrying every" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING and "bad user name" in said[0].getMessage()
    assert link.failures >= 4


async def test_refused_state_and_wait_are_reported() -> None:
    link = Link("store broker", initial=0.01, cap=0.02, long_cap=30.0)
    peer = Peer(refuse=True)
    task = await run_until(link, peer, lambda: peer.attempts >= 1 and link.state is LinkState.REFUSED)
    status = link.status()
    await stop(task)
    assert status.retry_in_s == 30.0 and status.to_json()["state"] == "refused"


async def test_sessions_that_end_at_once_do_not_reset_the_backoff() -> None:
    link = Link("x", initial=0.001, cap=10.0, stable_s=5.0)
    peer = Peer(drop_after=0)
    task = await run_until(link, peer, lambda: peer.attempts >= 8)
    attempts = link.attempts
    await stop(task)
    assert attempts >= 7  # each short session counted as part of one outage


async def test_a_session_that_stayed_up_is_trusted_and_the_backoff_starts_over() -> None:
    link = Link("x", initial=0.001, cap=10.0, stable_s=0.05)
    peer = Peer(drop_after=0.2)
    task = await run_until(link, peer, lambda: peer.attempts >= 3)
    await stop(task)
    assert link.attempts <= 1


async def test_repeated_takeovers_of_a_client_id_are_a_conflict(caplog: pytest.LogCaptureFixture) -> None:
    link = Link("store broker", initial=0.001, cap=0.01, stable_s=5.0, client_id="edge-agent-store-1-pub")
    peer = Peer(drop_after=0)
    with caplog.at_level(logging.DEBUG):
        task = await run_until(link, peer, lambda: peer.attempts >= 6 and link.state is LinkState.CONFLICT)
        health = link.status().health()
        await stop(task)
    said = [r for r in caplog.records if "another box uses" in r.getMessage()]
    assert len(said) == 1 and "edge-agent-store-1-pub" in said[0].getMessage()
    assert health.level == "degraded" and "edge-agent-store-1-pub" in str(health.reason)


async def test_without_a_client_id_short_sessions_are_no_conflict() -> None:
    link = Link("serial port", initial=0.001, cap=0.01, stable_s=5.0)
    peer = Peer(drop_after=0)
    task = await run_until(link, peer, lambda: peer.attempts >= 6)
    state = link.state
    await stop(task)
    assert state is not LinkState.CONFLICT


async def test_wake_retries_at_once() -> None:
    link = Link("uplink", initial=30.0, cap=60.0)
    peer = Peer(drop_after=0)
    task = await run_until(link, peer, lambda: peer.attempts == 1 and link.state is LinkState.WAITING)
    link.wake()
    await eventually(lambda: peer.attempts >= 2)
    await stop(task)


async def test_a_session_that_ends_by_itself_ends_the_link() -> None:
    link = Link("scenario")
    peer = Peer(done_after=1)
    await asyncio.wait_for(link.run(peer.connect, peer.serve), 5)
    assert link.state is LinkState.STOPPED and peer.attempts == 1


async def test_an_unexpected_error_is_logged_with_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    link = Link("driver", initial=0.001, cap=0.01, stable_s=5.0)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[None]:
        raise ZeroDivisionError("driver bug")
        yield

    async def serve(_: None) -> None:
        return None

    with caplog.at_level(logging.DEBUG):
        task = asyncio.create_task(link.run(connect, serve))
        await eventually(lambda: link.failures >= 3)
        await stop(task)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and link.last_error == "ZeroDivisionError: driver bug"


async def test_a_broker_that_says_the_session_was_taken_over_is_a_conflict_at_once() -> None:
    """MQTT 5 names the takeover (DISCONNECT 0x8E): one is enough, no short sessions to count."""

    @contextlib.asynccontextmanager
    async def taken_over() -> AsyncIterator[None]:
        raise LinkError("disconnected: Session taken over (0x8e)", lost=True, conflict=True, code=0x8E)
        yield

    link = Link("uplink", initial=0.001, cap=10.0, long_cap=30.0, client_id="edge-agent-store-1-uplink")
    task = asyncio.create_task(link.run(taken_over, lambda _: asyncio.sleep(0)))
    await eventually(lambda: link.failures >= 1)
    status = link.status()
    await stop(task)
    assert status.state is LinkState.CONFLICT and link.failures == 1
    assert status.retry_in_s is not None and status.retry_in_s >= 7.5  # the conflict's wait, not the first backoff
