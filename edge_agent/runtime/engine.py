"""The pipeline and the ticker as components: one consumes the queue, the other does the periodic work."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator

from ..core.component import Component, Sample, Status
from ..core.events import Acked, DeadLetter, SourceEvent
from ..core.stats import AgentStats
from .flow import EventQueue, device_of
from .pipeline import Pipeline

YIELD_EVERY = 64

log = logging.getLogger(__name__)


class PipelineRunner(Component):
    """Takes events from the queue and hands them to the pipeline, in order."""

    name = "pipeline"
    critical = True

    def __init__(self, pipeline: Pipeline, queue: EventQueue, stats: AgentStats) -> None:
        self._pipeline = pipeline
        self._queue = queue
        self._stats = stats

    async def run(self) -> None:
        await self._pipeline.roll(time.time())  # closes buckets left open by a previous run
        handled = 0
        while True:
            await self._handle(await self._queue.get())
            handled += 1
            if handled % YIELD_EVERY == 0:
                # With a full queue nothing above suspends; let the writer commit (and so release
                # acknowledgements) and the sources read while a burst is being worked through.
                await asyncio.sleep(0)

    async def drain(self) -> None:
        """Events already taken from their sources are still handled and committed."""
        while not self._queue.empty():
            await self._handle(self._queue.get_nowait())

    async def _handle(self, item: SourceEvent) -> None:
        try:
            await self._pipeline.handle(item, time.time())
        except Exception as exc:  # an input the handlers did not foresee is bad input, never a crash
            log.exception("input from %s could not be handled; kept as a dead letter", device_of(item))
            event = item.event if isinstance(item, Acked) else item
            # What it was and a digest that a redelivery shares; nothing of its content (no MAC, no id).
            digest = hashlib.blake2b(repr(event).encode(), digest_size=12).hexdigest()
            sample = f"{type(event).__name__} {digest}".encode()
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            letter = DeadLetter(device_of(item), "unhandled", time.time(), sample, detail)
            await self._pipeline.handle(Acked(letter, item.ack) if isinstance(item, Acked) else letter, time.time())

    def status(self) -> Status:
        queue = self._queue
        body = {
            **self._stats.snapshot(),
            "queue": {"depth": queue.qsize(), "coalesced_adverts": queue.coalesced, "dropped_adverts": queue.dropped},
            "social": self._pipeline.social.status(),
        }
        return Status(self.name, "pipeline", samples=tuple(self._samples()), body=body, merge=True)

    def _samples(self) -> Iterator[Sample]:
        stats, queue = self._stats, self._queue
        # Families that exist before their first sample, so that dashboards and alert rules find them.
        yield Sample("entries", None, (("decision", ""),), help="Known-customer entries by decision")
        yield Sample("people_present", None, (("zone", ""),), kind="gauge", help="People present per zone")
        yield Sample("dead_letters", None, (("device", ""), ("reason", "")), help="Rejected inputs")
        for name, value in sorted(stats.counters.items()):
            yield Sample("pipeline", value, (("counter", name),), help="Pipeline counters")
            if name.startswith("entries_"):
                decision = (("decision", name.removeprefix("entries_")),)
                yield Sample("entries", value, decision, help="Known-customer entries by decision")
        yield Sample("queue_depth", queue.qsize(), kind="gauge", help="Events waiting for the pipeline")
        yield Sample("adverts_coalesced", queue.coalesced, help="BLE adverts coalesced under load")
        yield Sample("adverts_dropped", queue.dropped, help="BLE adverts dropped under load")
        for zone, n in sorted(stats.present.items()):
            yield Sample("people_present", n, (("zone", zone),), kind="gauge", help="People present per zone")
        for device, n in sorted(stats.device_events.items()):
            yield Sample("device_events", n, (("device", device),), help="Events per device")
            yield Sample("device_over_rate", stats.over_rate[device], (("device", device),),
                         help="Events beyond the device's rate budget (handled, not dropped)")  # fmt: skip
        for (device, reason), n in sorted(stats.dead_letters.items()):
            yield Sample("dead_letters", n, (("device", device), ("reason", reason)), help="Rejected inputs")


class Ticker(Component):
    """Every `tick_s`: exits decided by silence, bucket roll-over, catalog refresh, retention."""

    name = "ticker"
    critical = True

    def __init__(self, pipeline: Pipeline, tick_s: float) -> None:
        self._pipeline = pipeline
        self._tick_s = tick_s
        self.ticks = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            await self._pipeline.tick(time.time())
            self.ticks += 1

    def status(self) -> Status:
        return Status(self.name, "ticker", body={"ticks": self.ticks})
