"""Building the runtime: every component constructed, restored from the store, entered in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..aggregation.rollup import Aggregator
from ..config.agent import AgentConfig, WebhookConfig
from ..core.cards import Card
from ..core.component import Component
from ..core.events import Alert, OffersUpdated
from ..core.stats import AgentStats
from ..field.insights import Lens, insights_of
from ..links.link import LinkState
from ..links.mqtt import MqttPublisher
from ..links.presence import Box
from ..presence.checkin import CheckinVerifier
from ..presence.engine import PresenceEngine
from ..scoring.onnx import ModelScorer, model_candidates
from ..scoring.policy import AlertPolicy
from ..sinks.alerts import AlertSink, MqttAlerts, MqttSuggestions
from ..sinks.social import LookCards, MirrorSocial
from ..sinks.tablets import AlertHub
from ..sinks.webhook import WebhookSink
from ..sinks.worker import Fanout, SinkWorker
from ..social.looks import LookState
from ..social.remote import LookCard
from ..sources.base import Source
from ..sources.build import remote_sharing
from ..sources.inbox import InboxSource
from ..sources.mqtt import uplink_broker
from ..store import Database, Effects, StoreWriter, connect, rows, sessions
from ..store.alerts import StoredAlerts
from ..uplink.downlink import Downlink
from ..uplink.outbox import NoUplink, Uplink
from ..uplink.transports import Transport, transport_for
from ..web.app import WebApi, WebServer
from ..web.metrics import render as render_metrics
from ..web.sessions import Sessions
from ..web.vote import VotePages
from . import report
from .control import StatusServer
from .engine import PipelineRunner, Ticker
from .feeds import SourceFeed
from .flow import EventQueue
from .notify import Watchdog, watchdog_interval
from .pipeline import Pipeline
from .ports import Ports, Suggestion
from .report import samples
from .social import Links

log = logging.getLogger(__name__)

REPUBLISH_WINDOW_S = 86400.0


@dataclass(frozen=True, slots=True)
class Options:
    """What one run of the agent is made of, beyond the config."""

    sources: tuple[Source, ...] = ()
    stats: AgentStats = field(default_factory=AgentStats)  # the agent's live counters, kept across its runtime
    tick_s: float = 1.0
    queue_size: int = 4096
    transport: Transport | None = None  # instead of the configured uplink (tests, benchmarks)
    extra_sinks: tuple[AlertSink, ...] = ()


@dataclass(frozen=True, slots=True)
class Hooks:
    """How the agent's own folds reach the control socket, the web server and the watchdog."""

    snapshot: Callable[[], dict[str, Any]]
    health: Callable[[], dict[str, Any]]
    statuses: Callable[[], Sequence[Any]]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything one run of the agent holds; `components` in start order (stopped in reverse)."""

    config: AgentConfig
    components: tuple[Component, ...]
    reader: Database
    stats: AgentStats
    writer: StoreWriter
    publisher: MqttPublisher
    scorer: ModelScorer
    pipeline: Pipeline
    hub: AlertHub
    inbox: InboxSource
    web: WebServer
    uplink: Uplink | None
    downlink: Downlink | None


@contextlib.asynccontextmanager
async def assemble(config: AgentConfig, options: Options, hooks: Hooks) -> AsyncIterator[Runtime]:
    """Construct the runtime, enter every component in order; leaving closes them in reverse."""
    reader = await asyncio.to_thread(connect, config.db_path)
    try:
        scorer = await asyncio.to_thread(ModelScorer, model_candidates(config.data_dir, config.scoring.model))
        rt = _runtime(config, options, hooks, reader, scorer)
        async with contextlib.AsyncExitStack() as stack:
            for component in rt.components:
                await stack.enter_async_context(component)
            yield rt
    finally:
        reader.close()


def _readable(stored: list[tuple[dict[str, Any], int]]) -> list[Card]:
    """The stored alerts the tablets get again; a row that is not a whole card (damaged, or written
    by hand) is left out of the replay, said once, and never stops the start."""
    cards = []
    for payload, event_id in stored:
        try:
            cards.append(Card.stored(payload, event_id))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    if len(cards) < len(stored):
        log.warning("%d stored alert(s) could not be read back as cards; tablets will not replay them",
                    len(stored) - len(cards))  # fmt: skip
    return cards


def _runtime(config: AgentConfig, options: Options, hooks: Hooks, reader: Database, scorer: ModelScorer) -> Runtime:
    stats, hub, inbox = options.stats, AlertHub(), InboxSource()
    hub.seed(_readable(rows.recent_cards(reader)))
    writer = StoreWriter(
        config.db_path,
        min_free_mb=config.store.min_free_mb,
        max_db_mb=config.store.max_db_mb,
        retention_s=config.privacy.retention_days * 86400,
    )
    publisher = MqttPublisher(
        config.mqtt,
        client_id=f"edge-agent-{config.store_id}-pub",
        topic_prefix=config.topic_prefix,
        box=Box.this(config.data_dir),
    )
    sinks = _sinks(config, options, reader, writer, publisher, hub)
    uplink, downlink = _cloud(config, options, writer)
    queue = EventQueue(options.queue_size)
    header = lambda: report.batch_header(hooks.statuses(), stats)  # noqa: E731 -- read when a bucket closes
    address = BoxAddress(config)
    pipeline = _pipeline(config, reader, writer, scorer, stats, hub, uplink, sinks, header, address)
    web = address.web = _web(config, reader, writer, hub, inbox, hooks, pipeline)
    commands = {"sync": _sync_now(uplink), "refresh": _refresh(pipeline)}
    watchdog = watchdog_interval()
    components: list[Component] = [
        writer, publisher, scorer, *sinks.all,
        uplink or NoUplink(config.db_path), *([downlink] if downlink else []),
        PipelineRunner(pipeline, queue, stats), Ticker(pipeline, options.tick_s),
        StatusServer(config.socket_path, hooks.snapshot, commands), web,
        *([Watchdog(watchdog, lambda: hooks.health()["status"] != "failing")] if watchdog else []),
        *(SourceFeed(source, queue) for source in (inbox, *options.sources)),
    ]  # fmt: skip
    return Runtime(
        config, tuple(components), reader, stats, writer, publisher, scorer, pipeline, hub, inbox, web, uplink, downlink
    )


@dataclass(frozen=True, slots=True)
class Sinks:
    """Each sink behind its own bounded queue: a flood of suggestions never drops an alert."""

    mqtt: SinkWorker[Alert | OffersUpdated]
    alerts: tuple[SinkWorker[Alert], ...]  # tablets and extra channels
    suggestions: SinkWorker[Suggestion]
    webhooks: tuple[SinkWorker[Alert | OffersUpdated], ...] = ()
    social: SinkWorker[tuple[str, LookState]] = field(default_factory=lambda: SinkWorker("mirror-social", _no))
    # look cards for the chain's relay, with their own link to the uplink broker
    cards: tuple[MqttPublisher, SinkWorker[tuple[str, LookCard | None]]] | None = None

    @property
    def all(self) -> tuple[Component, ...]:
        return (self.mqtt, *self.alerts, *self.webhooks, self.suggestions, self.social, *(self.cards or ()))

    def links(self, config: AgentConfig, address: BoxAddress) -> Links:
        """Where a look's links point, and whether friends elsewhere can be reached right now."""
        publisher = self.cards[0] if self.cards else None
        return Links(
            address,
            config.social.remote_url if publisher is not None else None,
            (lambda: publisher.link.state is LinkState.CONNECTED) if publisher is not None else (lambda: False),
        )


def _sinks(
    config: AgentConfig,
    options: Options,
    reader: Database,
    writer: StoreWriter,
    publisher: MqttPublisher,
    hub: AlertHub,
) -> Sinks:
    mqtt: SinkWorker[Alert | OffersUpdated] = SinkWorker(
        "mqtt-alerts", MqttAlerts(publisher, config.topic_prefix, writer).deliver
    )
    for card in rows.unpublished_alerts(reader, time.time() - REPUBLISH_WINDOW_S):
        mqtt.offer(Alert.from_card(card))  # committed before a crash, never confirmed: at least once
    alerts = (
        SinkWorker("tablets", hub.deliver),
        *(SinkWorker(f"extra-{i}", s.deliver) for i, s in enumerate(options.extra_sinks)),
    )
    suggestions = MqttSuggestions(publisher, config.topic_prefix)
    webhooks = tuple(_webhook(hook, reader, writer) for hook in config.sinks.webhooks)
    social = SinkWorker("mirror-social", MirrorSocial(publisher, config.topic_prefix).deliver)
    return Sinks(mqtt, alerts, SinkWorker("mirror-suggestions", suggestions.deliver), webhooks, social, _cards(config))


async def _no(item: object) -> None:
    """A sink for a Sinks built without a mirror broker (tests)."""


def _cards(config: AgentConfig) -> tuple[MqttPublisher, SinkWorker[tuple[str, LookCard | None]]] | None:
    if not remote_sharing(config):
        return None
    publisher = MqttPublisher(
        uplink_broker(config), client_id=f"edge-agent-{config.store_id}-looks", name="uplink-looks"
    )
    cards = LookCards(publisher, config.social.looks_topic.format(store_id=config.store_id))
    return publisher, SinkWorker("look-cards", cards.deliver)


@dataclass(slots=True)
class BoxAddress:
    """The companions' link base: `social.public_url`, else this box's LAN address and bound port."""

    config: AgentConfig
    web: WebServer | None = None

    def __call__(self) -> str:
        if self.config.social.public_url is not None:
            return self.config.social.public_url
        bound = self.web.url.rsplit(":", 1)[-1] if self.web is not None and self.web.url else ""
        port = int(bound) if bound.isdigit() else self.config.http.port
        return _box_url(self.config.http.host, port)


def _box_url(host: str, port: int) -> str:
    """The companions' link when `social.public_url` is not set: this box's LAN address."""
    if host not in ("0.0.0.0", "::", ""):
        return f"http://{host}:{port}"
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent; the kernel picks the LAN interface
        return f"http://{probe.getsockname()[0]}:{port}"
    return f"http://127.0.0.1:{port}"


def _webhook(hook: WebhookConfig, reader: Database, writer: StoreWriter) -> SinkWorker[Alert | OffersUpdated]:
    """A webhook's worker, offered again what was committed since the sink was added and never confirmed."""
    sink = WebhookSink(hook, writer)
    worker: SinkWorker[Alert | OffersUpdated] = SinkWorker(sink.name, sink)
    added = rows.sink_added_at(reader, sink.name)
    if added is None:  # a new sink starts now: it is not sent the past
        writer.enqueue(Effects(writes=(rows.sink_delivered(sink.name, "", time.time()),)))
        return worker
    for card in rows.undelivered_alerts(reader, sink.name, max(added, time.time() - REPUBLISH_WINDOW_S)):
        alert = Alert.from_card(card)
        if sink.wants(alert):
            worker.offer(alert)
    return worker


def _cloud(config: AgentConfig, options: Options, writer: StoreWriter) -> tuple[Uplink | None, Downlink | None]:
    transport = options.transport or transport_for(config.uplink, config.store_id)
    if transport is None:
        return None, None
    client_id = f"edge-agent-{config.store_id}-uplink" if config.uplink.kind == "mqtt" else None
    uplink = Uplink(config.db_path, writer, transport, config.uplink, client_id=client_id)
    wanted = config.uplink.kind == "mqtt" and config.uplink.downlink and options.transport is None
    return uplink, Downlink(config, writer) if wanted else None


def _pipeline(
    config: AgentConfig,
    reader: Database,
    writer: StoreWriter,
    scorer: ModelScorer,
    stats: AgentStats,
    hub: AlertHub,
    uplink: Uplink | None,
    sinks: Sinks,
    header: Callable[[], dict[str, Any]],
    address: BoxAddress,
) -> Pipeline:
    policy = AlertPolicy(config.scoring, scorer)
    for customer_id, ts in rows.alert_times(reader, time.time() - config.scoring.cooldown_s):
        policy.remember(customer_id, ts)
    aggregator = Aggregator(
        store_id=config.store_id,
        bucket_s=config.aggregates.bucket_s,
        k_anonymity=config.privacy.k_anonymity,
        max_message_bytes=config.uplink.max_message_bytes,
        header=header,
    )
    social = sinks.social
    cards = sinks.cards[1] if sinks.cards else None
    ports = Ports(
        config,
        writer,
        stats,
        aggregator,
        alerts=Fanout([sinks.mqtt.offer, *(w.offer for w in sinks.alerts), *(w.offer for w in sinks.webhooks)]),
        suggestions=sinks.suggestions.offer,
        updates=hub.update,
        offers_updated=Fanout([sinks.mqtt.offer, *(hook.offer for hook in sinks.webhooks)]),
        social=lambda device, state: social.offer((device, state)),
        look_cards=lambda look_id, card: cards.offer((look_id, card)) if cards is not None else None,
    )
    return Pipeline(
        ports,
        reader=reader,
        presence=PresenceEngine(config.presence, config.scanner_zones()),
        policy=policy,
        on_batch=(lambda _: uplink.wake()) if uplink is not None else None,
        on_catalog=hub.retain,
        links=sinks.links(config, address),
    )


def _web(
    config: AgentConfig,
    reader: Database,
    writer: StoreWriter,
    hub: AlertHub,
    inbox: InboxSource,
    hooks: Hooks,
    pipeline: Pipeline,
) -> WebServer:
    async def signed_out(sid: str, expires: float) -> None:
        await writer.write(sessions.revoke(sid, expires))

    secret, revoked = sessions.session_secret(reader), sessions.revoked_sessions(reader, time.time())
    api = WebApi(
        staff_token=config.http.staff_token,
        hub=hub,
        inbox=inbox,
        checkin=CheckinVerifier(config.checkin.key, config.store_id, config.checkin.max_ttl_s),
        alerts=StoredAlerts(reader),
        status=hooks.snapshot,
        health=hooks.health,
        metrics=lambda: render_metrics(lambda: samples(hooks.statuses())),
        store_id=config.store_id,
        sessions=Sessions(config.http.staff_token, secret, revoked, signed_out),
        insights=partial(insights_of, config.db_path, Lens.of(config)),
        votes=VotePages(pipeline.social.board, inbox, config.privacy.salt, pipeline.title),
    )
    return WebServer(api, config.http.host, config.http.port)


def _sync_now(uplink: Uplink | None) -> Callable[[], dict[str, Any]]:
    def sync() -> dict[str, Any]:
        if uplink is None:
            return {"ok": False, "error": "uplink is off in the config"}
        uplink.wake()
        return {"ok": True}

    return sync


def _refresh(pipeline: Pipeline) -> Callable[[], dict[str, Any]]:
    def refresh() -> dict[str, Any]:
        """The CLI changed customers (consent, forget): apply it before the next advertisement."""
        pipeline.refresh()
        return {"ok": True}

    return refresh
