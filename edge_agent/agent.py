"""The daemon: one TaskGroup running sources, the pipeline and the periodic ticker."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from .aggregation.rollup import Aggregator
from .backoff import Backoff
from .config import AgentConfig
from .control import StatusServer
from .flow import EventQueue
from .metrics import render as render_metrics
from .mqtt import MqttPublisher
from .notify import notify, watchdog_interval
from .pipeline import Pipeline, last_alerts
from .presence.checkin import CheckinVerifier
from .presence.engine import PresenceEngine
from .scoring.onnx import ModelScorer, model_candidates
from .scoring.policy import AlertPolicy
from .sinks.alerts import AlertSink, MqttAlerts, MqttSuggestions, StoredAlerts
from .sinks.tablets import AlertHub
from .sources.base import Source
from .sources.inbox import InboxSource
from .stats import AgentStats
from .store import StoreWriter, connect
from .tasks import cancel_and_wait
from .uplink.downlink import Downlink
from .uplink.outbox import Uplink, outbox_status
from .uplink.transports import Transport, transport_for
from .web.app import WebApi, WebServer

log = logging.getLogger(__name__)


class Agent:
    """Wires the layers together for one run; `run()` returns after `stop` is set."""

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
        self._tick_s = tick_s
        self._queue = EventQueue(queue_size)
        self._writer: StoreWriter | None = None
        self._publisher: MqttPublisher | None = None
        self.extra_sinks: list[AlertSink] = []
        self.scorer: ModelScorer | None = None
        self.hub = AlertHub()
        self.inbox = InboxSource()
        self.http_url: str | None = None
        self._reader: sqlite3.Connection | None = None
        self.ready = asyncio.Event()  # set once sources and pipeline run
        self._critical: list[asyncio.Task[None]] = []
        self.uplink: Uplink | None = None
        self.downlink: Downlink | None = None
        self._uplink_transport = transport

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        for source in self.sources:
            stats = self.stats.source(source.name)
            link = getattr(source, "state", None)
            if link is not None:
                stats.link = str(link)
            stale_after = getattr(source, "stale_after_s", None)
            if stale_after is not None:
                stats.stale = now - (stats.last_event_ts or self.stats.started_at) > stale_after
        extra: dict[str, Any] = {
            "pid": os.getpid(),
            "store_id": self.config.store_id,
            "queue": {
                "depth": self._queue.qsize(),
                "coalesced_adverts": self._queue.coalesced,
                "dropped_adverts": self._queue.dropped,
            },
        }
        if self._writer is not None:
            extra["store_writer"] = {
                "depth": self._writer.depth,
                "batches": self._writer.batches,
                "rows": self._writer.rows,
            }
        if self.scorer is not None:
            extra["scoring"] = self.scorer.status()
        extra["tablets"] = self.hub.clients
        if self._reader is not None:
            extra["uplink"] = {
                "kind": self.config.uplink.kind,
                "state": str(self.uplink.state) if self.uplink else "off",
                **outbox_status(self._reader),
            }
        extra["http"] = self.http_url
        if self._publisher is not None:
            extra["mqtt"] = {
                "state": self._publisher.state.value,
                "published": self._publisher.published,
                "queued": self._publisher.depth,
                "dropped": self._publisher.dropped,
                "last_error": self._publisher.last_error,
            }
        return self.stats.snapshot(**extra)

    def _sync_now(self) -> dict[str, Any]:
        if self.uplink is None:
            return {"ok": False, "error": "uplink is off in the config"}
        self.uplink.wake()
        return {"ok": True}

    def failed_tasks(self) -> list[str]:
        """Critical tasks that are no longer running (for /healthz)."""
        failed = [t.get_name() for t in self._critical if t.done()]
        if self._writer is None:
            failed.append("store-writer")
        return failed

    def _web(self, reader: sqlite3.Connection) -> WebServer:
        config = self.config
        api = WebApi(
            staff_token=config.http.staff_token,
            hub=self.hub,
            inbox=self.inbox,
            checkin=CheckinVerifier(config.checkin.key, config.store_id, config.checkin.max_ttl_s),
            reader=reader,
            status=self.snapshot,
            health=self.failed_tasks,
            metrics=lambda: render_metrics(self.snapshot),
            store_id=config.store_id,
        )
        return WebServer(api, config.http.host, config.http.port)

    async def run(self, stop: asyncio.Event) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        reader = await asyncio.to_thread(connect, config.db_path)
        self._reader = reader
        self.hub.seed(recent_cards(reader))
        try:
            async with (
                StoreWriter(config.db_path) as writer,
                MqttPublisher(config.mqtt, client_id=f"edge-agent-{config.store_id}-pub") as publisher,
                StatusServer(config.socket_path, self.snapshot, {"sync": self._sync_now}),
                self._web(reader) as web,
            ):
                self.http_url = web.url
                self._writer, self._publisher = writer, publisher
                aggregator = Aggregator(
                    writer,
                    store_id=config.store_id,
                    bucket_s=config.aggregates.bucket_s,
                    k_anonymity=config.privacy.k_anonymity,
                )
                row = reader.execute("SELECT value FROM state WHERE key = ?", (Aggregator.state_key(),)).fetchone()
                aggregator.restore(row[0] if row else None)
                self.scorer = await asyncio.to_thread(
                    ModelScorer, model_candidates(config.data_dir, config.scoring.model)
                )
                policy = AlertPolicy(config.scoring, self.scorer)
                for customer_id, ts in last_alerts(reader, time.time() - config.scoring.cooldown_s):
                    policy.remember(customer_id, ts)
                pipeline = Pipeline(
                    config,
                    reader=reader,
                    writer=writer,
                    presence=PresenceEngine(
                        config.presence, {s: z.id for z in reversed(config.zones) for s in z.scanners}
                    ),
                    policy=policy,
                    aggregator=aggregator,
                    sinks=[
                        StoredAlerts(writer),
                        MqttAlerts(publisher, config.topic_prefix),
                        self.hub,
                        *self.extra_sinks,
                    ],
                    stats=self.stats,
                    suggestions=MqttSuggestions(publisher, config.topic_prefix),
                )
                async with asyncio.TaskGroup() as tg:
                    tasks = [
                        tg.create_task(self._pump(s), name=f"source:{s.name}") for s in [*self.sources, self.inbox]
                    ]
                    self._critical = [
                        tg.create_task(self._engine(pipeline), name="pipeline"),
                        tg.create_task(self._ticker(pipeline), name="ticker"),
                    ]
                    transport = self._uplink_transport or transport_for(config.uplink, config.store_id)
                    if transport is not None:
                        self.uplink = Uplink(config.db_path, writer, transport, config.uplink)
                        self._critical.append(tg.create_task(self.uplink.run(), name="uplink"))
                    if config.uplink.kind == "mqtt" and config.uplink.downlink and self._uplink_transport is None:
                        self.downlink = Downlink(config)
                        tasks.append(tg.create_task(self.downlink.run(), name="downlink"))
                    tasks += self._critical
                    interval = watchdog_interval()
                    if interval is not None:
                        tasks.append(tg.create_task(self._watchdog(interval), name="watchdog"))
                    self.ready.set()
                    notify("READY=1\nSTATUS=running")
                    log.info("edge-agent running for store %s with %d source(s)", config.store_id, len(self.sources))
                    await stop.wait()
                    log.info("stopping")
                    notify("STOPPING=1")
                    await cancel_and_wait(tasks)
                # Events already taken from their sources are still processed before the flush.
                while not self._queue.empty():
                    await pipeline.handle(self._queue.get_nowait(), time.time())
                await aggregator.checkpoint()
        finally:
            self._writer = self._publisher = None
            self.http_url = None
            self.ready.clear()
            self._reader = None
            reader.close()
        log.info("stopped")

    async def _pump(self, source: Source) -> None:
        """Feed one source into the queue; a failing source is restarted and never stops the others."""
        stats = self.stats.source(source.name)
        backoff = Backoff(initial=1.0, cap=60.0)
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
            except Exception as exc:  # supervisor boundary: isolate the broken source, keep its traceback
                stats.state = "restarting"
                stats.restarts += 1
                stats.last_error = f"{type(exc).__name__}: {exc}"
                delay = backoff.next_delay()
                log.exception("source %s failed; restarting in %.1fs", source.name, delay)
                await asyncio.sleep(delay)

    async def _watchdog(self, interval: float) -> None:
        """Feed systemd's watchdog only while the pipeline, ticker and writer are alive."""
        while True:
            if not self.failed_tasks():
                notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _engine(self, pipeline: Pipeline) -> None:
        handled = 0
        while True:
            event = await self._queue.get()
            await pipeline.handle(event, time.time())
            handled += 1
            if handled % 64 == 0:
                # With a full queue nothing above suspends; let the writer commit (and so release
                # acknowledgements) and the sources read while a burst is being worked through.
                await asyncio.sleep(0)

    async def _ticker(self, pipeline: Pipeline) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            await pipeline.tick(time.time())
            if self.scorer is not None:
                self.scorer.reload()  # a new model dropped into the data dir is swapped in


def recent_cards(reader: sqlite3.Connection, limit: int = 500) -> list[dict[str, Any]]:
    """The last alerts as tablet cards, oldest first."""
    rows = reader.execute("SELECT ts, payload FROM alerts ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()
    return [{**json.loads(payload), "event_id": int(ts * 1000)} for ts, payload in reversed(rows)]
