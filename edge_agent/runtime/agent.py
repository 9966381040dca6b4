"""The daemon: assemble the runtime, run its components in one TaskGroup, stop them upstream first."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..config.agent import AgentConfig
from ..core.component import Component, Health, Status
from ..core.stats import AgentStats
from ..core.tasks import cancel_and_wait
from ..sinks.alerts import AlertSink
from ..sources.base import Source
from ..uplink.transports import Transport
from . import heap, report
from .build import Hooks, Options, Runtime, assemble
from .notify import notify

log = logging.getLogger(__name__)


class Agent:
    """One run of the agent over `sources`; `run()` returns after `stop` is set."""

    def __init__(self, config: AgentConfig, sources: Sequence[Source] = (), *, tick_s: float = 1.0,
                 queue_size: int = 4096, transport: Transport | None = None,
                 extra_sinks: Sequence[AlertSink] = ()) -> None:  # fmt: skip
        self.config = config
        self.stats = AgentStats()  # live counters, readable before, during and after the run
        self.options = Options(tuple(sources), self.stats, tick_s, queue_size, transport, tuple(extra_sinks))
        self.ready = asyncio.Event()  # set once every component runs
        self.runtime: Runtime | None = None
        self._tasks: dict[Component, asyncio.Task[None]] = {}
        self._started = time.time()

    async def run(self, stop: asyncio.Event) -> None:
        hooks = Hooks(self.snapshot, lambda: report.verdict(self.statuses()).to_json(), self.statuses)
        async with assemble(self.config, self.options, hooks) as rt:
            self.runtime = rt
            try:
                with heap.settled():
                    await self._serve(rt, stop)
            finally:
                self.ready.clear()
                self.runtime = None
        log.info("stopped")

    async def _serve(self, rt: Runtime, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tasks = {c: tg.create_task(self._guarded(c), name=c.name) for c in rt.components}
            self.ready.set()
            notify("READY=1\nSTATUS=running")
            log.info("edge-agent running for store %s with %d component(s)", rt.config.store_id, len(self._tasks))
            await stop.wait()
            log.info("stopping")
            notify("STOPPING=1")
            for component in reversed(rt.components):  # upstream first: nothing new reaches what drains
                await cancel_and_wait([self._tasks[component]])
                await component.drain()

    async def _guarded(self, component: Component) -> None:
        """A component that fails is logged and reported; it never takes the others down."""
        try:
            await component.run()
        except Exception:
            log.exception("%s stopped by an error", component.name)

    def statuses(self) -> list[Status]:
        """Every component's status; a critical one whose run ended is failing."""
        out = []
        for component, task in self._tasks.items():
            status = component.status()
            if task.done() and component.critical and status.health.ok:
                status = replace(status, state="stopped", health=Health("failing", f"{component.name} stopped"))
            out.append(status)
        return out

    def snapshot(self) -> dict[str, Any]:
        """`status --json`."""
        now = time.time()
        head = {"running": self.runtime is not None, "pid": os.getpid(), "store_id": self.config.store_id,
                "started_at": self._started, "uptime_s": round(now - self._started, 1)}  # fmt: skip
        return {**head, **report.snapshot(self.statuses()), "health": report.verdict(self.statuses()).to_json()}

    @property
    def http_url(self) -> str | None:
        return self.runtime.web.url if self.runtime else None
