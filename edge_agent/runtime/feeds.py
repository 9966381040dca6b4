"""A source as a component: its link runs its sessions, every event goes into the pipeline's queue."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ..core.component import Component, Sample, Status
from ..core.events import SourceEvent
from ..links import LinkState
from ..sources.base import Source
from .flow import EventQueue


class SourceFeed(Component):
    """Feeds one source into the queue; a failing source is retried by its link, never stops the others."""

    def __init__(self, source: Source, queue: EventQueue) -> None:
        self.source = source
        self.name = f"source:{source.name}"
        self._queue = queue
        self.events = 0
        self.last_event_ts: float | None = None
        self._started = time.time()
        self._finished = False

    async def run(self) -> None:
        self._started = time.time()
        await self.source.link.run(self.source.connect, self._pump)
        self._finished = True

    async def _pump(self, events: AsyncIterator[SourceEvent]) -> None:
        async for event in events:
            self.events += 1
            self.last_event_ts = time.time()
            await self._queue.put(event)  # blocks when full: backpressure

    def _state(self) -> str:
        link = self.source.link
        if self._finished:
            return "finished"
        if link.state is not LinkState.CONNECTED:
            return "starting" if link.state is LinkState.STOPPED else str(link.state)
        stale_after = self.source.info().stale_after_s
        silent_since = self.last_event_ts or self._started
        return "stale" if stale_after is not None and time.time() - silent_since > stale_after else "running"

    def status(self) -> Status:
        link = self.source.link.status()
        info = self.source.info()
        name = self.source.name
        labels = (("source", name),)
        state = self._state()
        return Status(
            self.name,
            "sources",
            name,
            state=state,
            link=link,
            health=link.health(),
            samples=(
                Sample("source_events", self.events, labels, help="Events received per source"),
                Sample(
                    "source_up",
                    1.0 if state == "running" else 0.0,
                    labels,
                    kind="gauge",
                    help="1 if the source is running and not stale",
                ),
                Sample("source_dropped", info.dropped, labels, help="Inputs a source discarded under overload"),
            ),
            body={
                "events": self.events,
                "restarts": link.failures,
                "last_event_ts": self.last_event_ts,
                "last_error": link.last_error,
                "link": str(link.state),
                "dropped": info.dropped,
            },
        )
