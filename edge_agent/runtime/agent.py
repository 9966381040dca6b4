"""The daemon: build the runtime, start named tasks, wait for stop, drain."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from ..config.agent import AgentConfig
from ..core.stats import AgentStats
from ..core.tasks import cancel_and_wait
from ..links import Link
from ..sinks.alerts import AlertSink
from ..sinks.tablets import AlertHub
from ..sources.base import Source
from ..sources.inbox import InboxSource
from ..uplink.outbox import outbox_status
from ..uplink.transports import Transport
from .build import Runtime, Wiring, assemble
from .flow import EventQueue
from .notify import notify, watchdog_interval
from .pipeline import Pipeline

log = logging.getLogger(__name__)


class Agent:
    """One run of the agent over `sources`; `run()` returns after `stop` is set."""

    def __init__(
        self,
        config: AgentConfig,
        sources: Sequence[Source],
        *,
        tick_s: float = 1.0,
        queue_size: int = 4096,
        transport: Transport | None = None,
    ) -> None:
        self.config = config
        self.sources = list(sources)
        self.stats = AgentStats()
        self.hub = AlertHub()
        self.inbox = InboxSource()
        self.extra_sinks: list[AlertSink] = []
        self.ready = asyncio.Event()  # set once sources and pipeline run
        self.runtime: Runtime | None = None
        self._tick_s = tick_s
        self._queue = EventQueue(queue_size)
        self._transport = transport
        self._critical: list[asyncio.Task[None]] = []
        self._links: dict[str, Link] = {}

    async def run(self, stop: asyncio.Event) -> None:
        async with assemble(self.config, self._wiring()) as rt:
            self.runtime = rt
            try:
                async with asyncio.TaskGroup() as tg:
                    tasks = self._start(tg, rt)
                    self.ready.set()
                    notify("READY=1\nSTATUS=running")
                    log.info(
                        "edge-agent running for store %s with %d source(s)", self.config.store_id, len(self.sources)
                    )
                    await stop.wait()
                    log.info("stopping")
                    notify("STOPPING=1")
                    await cancel_and_wait(tasks)
                # Events already taken from their sources are still handled and committed.
                while not self._queue.empty():
                    await rt.pipeline.handle(self._queue.get_nowait(), time.time())
            finally:
                self.ready.clear()
                self.runtime = None
        log.info("stopped")

    def _start(self, tg: asyncio.TaskGroup, rt: Runtime) -> list[asyncio.Task[None]]:
        """Named tasks: one per source, the pipeline, the ticker, every sink, uplink and downlink."""
        tasks = [tg.create_task(self._pump(s), name=f"source:{s.name}") for s in [*self.sources, self.inbox]]
        tasks += [tg.create_task(w.run(), name=f"sink:{w.name}") for w in rt.sinks]
        self._critical = [
            tg.create_task(self._engine(rt.pipeline), name="pipeline"),
            tg.create_task(self._ticker(rt), name="ticker"),
        ]
        if rt.uplink is not None:
            self._critical.append(tg.create_task(rt.uplink.run(), name="uplink"))
        if rt.downlink is not None:
            tasks.append(tg.create_task(rt.downlink.run(), name="downlink"))
        interval = watchdog_interval()
        if interval is not None:
            tasks.append(tg.create_task(self._watchdog(interval), name="watchdog"))
        return tasks + self._critical

    def _wiring(self) -> Wiring:
        return Wiring(
            stats=self.stats,
            hub=self.hub,
            inbox=self.inbox,
            extra_sinks=tuple(self.extra_sinks),
            snapshot=self.snapshot,
            health=self.failed_tasks,
            commands={"sync": self._sync_now, "refresh": self._refresh},
            transport=self._transport,
        )

    @property
    def scorer(self) -> Any:
        return self.runtime.scorer if self.runtime else None

    @property
    def uplink(self) -> Any:
        return self.runtime.uplink if self.runtime else None

    @property
    def downlink(self) -> Any:
        return self.runtime.downlink if self.runtime else None

    @property
    def http_url(self) -> str | None:
        return self.runtime.web.url if self.runtime else None

    def failed_tasks(self) -> list[str]:
        """Critical tasks (and the store writer) that are no longer running, for /healthz."""
        failed = [t.get_name() for t in self._critical if t.done()]
        if self.runtime is None or not self.runtime.writer.alive:
            failed.append("store-writer")
        return failed

    def _refresh(self) -> dict[str, Any]:
        """The CLI changed customers (consent, forget): apply it before the next advertisement."""
        if self.runtime is not None:
            self.runtime.pipeline.refresh()
        return {"ok": True}

    def _sync_now(self) -> dict[str, Any]:
        if self.uplink is None:
            return {"ok": False, "error": "uplink is off in the config"}
        self.uplink.wake()
        return {"ok": True}

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        for source in self.sources:
            stats = self.stats.source(source.name)
            link = getattr(source, "link", None)
            if isinstance(link, Link):
                self._links[source.name] = link
                stats.link = str(link.state)
            dropped = getattr(source, "dropped", None)
            if isinstance(dropped, int):
                stats.dropped = dropped
            stale_after = getattr(source, "stale_after_s", None)
            if stale_after is not None:
                stats.stale = now - (stats.last_event_ts or self.stats.started_at) > stale_after
        return self.stats.snapshot(**self._runtime_status())

    def _runtime_status(self) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "pid": os.getpid(),
            "store_id": self.config.store_id,
            "queue": {
                "depth": self._queue.qsize(),
                "coalesced_adverts": self._queue.coalesced,
                "dropped_adverts": self._queue.dropped,
            },
            "tablets": self.hub.clients,
            "http": self.http_url,
        }
        rt = self.runtime
        if rt is None:
            return extra
        writer = rt.writer
        extra["store_writer"] = {"depth": writer.depth, "batches": writer.batches, "rows": writer.rows}
        extra["scoring"] = rt.scorer.status()
        extra["sinks"] = {w.name: w.status() for w in rt.sinks}
        links = {"store-broker": rt.publisher.link, **self._links}
        if rt.uplink is not None:
            links["uplink"] = rt.uplink.link
        if rt.downlink is not None:
            links["downlink"] = rt.downlink.link
        extra["links"] = {name: link.status() for name, link in links.items()}
        extra["uplink"] = {
            "kind": self.config.uplink.kind,
            "state": str(rt.uplink.link.state) if rt.uplink else "off",
            **outbox_status(rt.reader),
        }
        extra["mqtt"] = {
            "state": rt.publisher.link.state.value,
            "published": rt.publisher.published,
            "queued": rt.publisher.depth,
            "dropped": rt.publisher.dropped,
            "last_error": rt.publisher.link.last_error,
        }
        return extra

    async def _pump(self, source: Source) -> None:
        """Feed one source into the queue; a failing source is restarted and never stops the others."""
        stats = self.stats.source(source.name)
        link = Link(f"source {source.name}", initial=1.0, cap=60.0)
        while True:
            try:
                async with source:
                    stats.state = "running"
                    async for event in source.events():
                        stats.events += 1
                        stats.last_event_ts = time.time()
                        await self._queue.put(event)  # blocks when full: backpressure
                    stats.state = "finished"
                    return
            except Exception as exc:  # noqa: BLE001 -- supervisor boundary: isolate the broken source, log its traceback
                stats.state = "restarting"
                stats.restarts += 1
                stats.last_error = f"{type(exc).__name__}: {exc}"
                await link.retry_after(exc, traceback=True)

    async def _watchdog(self, interval: float) -> None:
        """Feed systemd's watchdog only while the pipeline, ticker and writer are alive."""
        while True:
            if not self.failed_tasks():
                notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _engine(self, pipeline: Pipeline) -> None:
        await pipeline.roll(time.time())  # closes buckets left open by a previous run
        handled = 0
        while True:
            event = await self._queue.get()
            await pipeline.handle(event, time.time())
            handled += 1
            if handled % 64 == 0:
                # With a full queue nothing above suspends; let the writer commit (and so release
                # acknowledgements) and the sources read while a burst is being worked through.
                await asyncio.sleep(0)

    async def _ticker(self, rt: Runtime) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            await rt.pipeline.tick(time.time())
            await asyncio.to_thread(rt.scorer.reload)  # a new model in the data dir, loaded off the loop
