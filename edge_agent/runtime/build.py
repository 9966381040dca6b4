"""Building the runtime: components that restore themselves from the store, entered in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..aggregation.rollup import Aggregator
from ..config.agent import AgentConfig
from ..core.events import Alert
from ..core.stats import AgentStats
from ..links.mqtt import MqttPublisher
from ..presence.checkin import CheckinVerifier
from ..presence.engine import PresenceEngine
from ..scoring.onnx import ModelScorer, model_candidates
from ..scoring.policy import AlertPolicy
from ..sinks.alerts import AlertSink, MqttAlerts, MqttSuggestions
from ..sinks.tablets import AlertHub
from ..sinks.worker import Fanout, SinkWorker
from ..sources.inbox import InboxSource
from ..store import StoreWriter, connect, rows
from ..uplink.downlink import Downlink
from ..uplink.outbox import Uplink
from ..uplink.transports import Transport, transport_for
from ..web.app import WebApi, WebServer
from ..web.metrics import render as render_metrics
from .control import StatusServer
from .pipeline import Pipeline
from .ports import Ports, Suggestion

log = logging.getLogger(__name__)

REPUBLISH_WINDOW_S = 86400.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything one run of the agent holds, built by `assemble()`."""

    config: AgentConfig
    reader: sqlite3.Connection
    writer: StoreWriter
    publisher: MqttPublisher
    scorer: ModelScorer
    pipeline: Pipeline
    sinks: tuple[SinkWorker[Any], ...]
    web: WebServer
    uplink: Uplink | None
    downlink: Downlink | None


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the agent lends the runtime: its counters, hub, inbox, extra sinks and status."""

    stats: AgentStats
    hub: AlertHub
    inbox: InboxSource
    extra_sinks: tuple[AlertSink, ...]
    snapshot: Callable[[], dict[str, Any]]
    health: Callable[[], list[str]]
    commands: dict[str, Callable[[], dict[str, Any]]]
    transport: Transport | None


@contextlib.asynccontextmanager
async def assemble(config: AgentConfig, wiring: Wiring) -> AsyncIterator[Runtime]:
    """Enter every long-lived resource; leaving closes them in reverse order."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    reader = await asyncio.to_thread(connect, config.db_path)
    wiring.hub.seed(rows.recent_cards(reader))
    try:
        async with contextlib.AsyncExitStack() as stack:
            writer = await stack.enter_async_context(StoreWriter(config.db_path))
            publisher = await stack.enter_async_context(
                MqttPublisher(config.mqtt, client_id=f"edge-agent-{config.store_id}-pub")
            )
            await stack.enter_async_context(StatusServer(config.socket_path, wiring.snapshot, wiring.commands))
            web = await stack.enter_async_context(_web(config, reader, wiring))
            scorer = await asyncio.to_thread(ModelScorer, model_candidates(config.data_dir, config.scoring.model))
            yield _runtime(config, reader, writer, publisher, scorer, web, wiring)
    finally:
        reader.close()


def _runtime(
    config: AgentConfig,
    reader: sqlite3.Connection,
    writer: StoreWriter,
    publisher: MqttPublisher,
    scorer: ModelScorer,
    web: WebServer,
    wiring: Wiring,
) -> Runtime:
    mqtt_alerts = MqttAlerts(publisher, config.topic_prefix, writer)
    alert_sinks: list[SinkWorker[Alert]] = [
        SinkWorker("mqtt-alerts", mqtt_alerts.deliver),
        SinkWorker("tablets", wiring.hub.deliver),
        *(SinkWorker(f"extra-{i}", s.deliver) for i, s in enumerate(wiring.extra_sinks)),
    ]
    suggestions = MqttSuggestions(publisher, config.topic_prefix)
    suggestion_sink: SinkWorker[Suggestion] = SinkWorker("mirror-suggestions", suggestions.deliver)
    for card in rows.unpublished_alerts(reader, time.time() - REPUBLISH_WINDOW_S):
        alert_sinks[0].offer(Alert.from_card(card))  # committed before a crash, never confirmed: at least once
    uplink_transport = wiring.transport or transport_for(config.uplink, config.store_id)
    uplink = Uplink(config.db_path, writer, uplink_transport, config.uplink) if uplink_transport else None
    downlink = (
        Downlink(config)
        if config.uplink.kind == "mqtt" and config.uplink.downlink and wiring.transport is None
        else None
    )
    policy = AlertPolicy(config.scoring, scorer)
    for customer_id, ts in rows.alert_times(reader, time.time() - config.scoring.cooldown_s):
        policy.remember(customer_id, ts)
    ports = Ports(
        config,
        writer,
        wiring.stats,
        Aggregator(
            store_id=config.store_id, bucket_s=config.aggregates.bucket_s, k_anonymity=config.privacy.k_anonymity
        ),
        alerts=Fanout(alert_sinks),
        suggestions=suggestion_sink.offer,
        updates=wiring.hub.update,
    )
    pipeline = Pipeline(
        ports,
        reader=reader,
        presence=PresenceEngine(config.presence, config.scanner_zones()),
        policy=policy,
        on_batch=(lambda _: uplink.wake()) if uplink is not None else None,
        on_catalog=wiring.hub.retain,
    )
    sinks: tuple[SinkWorker[Any], ...] = (*alert_sinks, suggestion_sink)
    return Runtime(config, reader, writer, publisher, scorer, pipeline, sinks, web, uplink, downlink)


def _web(config: AgentConfig, reader: sqlite3.Connection, wiring: Wiring) -> WebServer:
    api = WebApi(
        staff_token=config.http.staff_token,
        hub=wiring.hub,
        inbox=wiring.inbox,
        checkin=CheckinVerifier(config.checkin.key, config.store_id, config.checkin.max_ttl_s),
        reader=reader,
        status=wiring.snapshot,
        health=wiring.health,
        metrics=lambda: render_metrics(wiring.snapshot),
        store_id=config.store_id,
        min_support=config.learning.min_support,
    )
    return WebServer(api, config.http.host, config.http.port)
