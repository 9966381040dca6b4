"""Sink isolation: each sink runs behind its own bounded queue and task.

A sink that blocks or raises never delays ingestion or the other sinks: `offer()` never waits;
when a sink's queue is full its oldest item is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar, runtime_checkable

from ..core.component import Component, Sample, Status

log = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


@runtime_checkable
class Sink(Protocol[T_contra]):
    """Where items go: `opened()` holds what it needs (an HTTP session, a connection) for as long
    as the sink runs; `deliver` takes one item at a time, in order."""

    def opened(self) -> AbstractAsyncContextManager[object]: ...

    async def deliver(self, item: T_contra) -> None: ...


QUIET_S = 60.0  # one log line per failing sink per minute


class SinkWorker(Component, Generic[T]):
    """Delivers items to one sink in order, from a bounded queue, in its own task."""

    def __init__(self, name: str, sink: Sink[T] | Callable[[T], Awaitable[None]], maxsize: int = 256) -> None:
        self.name = f"sink:{name}"
        self.sink = name
        self._deliver: Callable[[T], Awaitable[None]]
        self._open: Callable[[], AbstractAsyncContextManager[object]]
        if isinstance(sink, Sink):
            self._open, self._deliver = sink.opened, sink.deliver
        else:  # a plain function: a sink with nothing to open
            self._open, self._deliver = nullcontext, sink
        self._resources: AbstractAsyncContextManager[object] = nullcontext()
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self.last_error: str | None = None
        self._logged_at = -QUIET_S

    async def __aenter__(self) -> Self:
        """Open what the sink needs for as long as it runs (it owns it; the worker only times it)."""
        self._resources = self._open()
        await self._resources.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._resources.__aexit__(exc_type, exc, tb)

    def offer(self, item: T) -> None:
        """Queue `item`; never waits (a full queue drops its oldest item, counted)."""
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    async def run(self) -> None:
        while True:
            while not self._items:
                self._ready.clear()
                await self._ready.wait()
            item = self._items.popleft()
            try:
                await self._deliver(item)
            except Exception as exc:  # noqa: BLE001 -- the sink's failure is its own: count it, keep the others going
                self._failed(exc)
            else:
                self.delivered += 1

    def _failed(self, exc: Exception) -> None:
        self.failed += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if now - self._logged_at >= QUIET_S:
            self._logged_at = now
            log.error(
                "sink %s failed (%s); %d failure(s) so far", self.name, self.last_error, self.failed, exc_info=exc
            )

    def status(self) -> Status:
        labels = (("sink", self.sink),)
        return Status(
            self.name,
            "sinks",
            self.sink,
            samples=(
                Sample("sink_delivered", self.delivered, labels, help="Items delivered per sink"),
                Sample("sink_dropped", self.dropped, labels, help="Items dropped by a full sink queue"),
                Sample("sink_failed", self.failed, labels, help="Deliveries that raised"),
                Sample("sink_queued", len(self._items), labels, kind="gauge", help="Items waiting per sink"),
            ),
            body={
                "queued": len(self._items),
                "delivered": self.delivered,
                "dropped": self.dropped,
                "failed": self.failed,
                "last_error": self.last_error,
            },
        )


class Fanout(Generic[T]):
    """Offers each item to every sink (their `offer`s: none of them waits)."""

    def __init__(self, offers: Sequence[Callable[[T], None]]) -> None:
        self.offers = tuple(offers)

    def __call__(self, item: T) -> None:
        for offer in self.offers:
            offer(item)
