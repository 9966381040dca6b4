"""The one-way flow: source events → decoders → presence / scoring / aggregation → sinks.

The pipeline is a thin router: it rolls the open bucket, admits or refuses senders, and hands
each event to the handler of its kind. Handlers describe what an input changes as effects;
the writer commits them and only then acknowledges the input and emits alerts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from ..core.events import (
    Acked,
    Advertisement,
    AlertAction,
    CheckIn,
    ConsentChange,
    DeadLetter,
    FriendForgotten,
    FriendRemembered,
    FriendVote,
    MirrorEvent,
    Sale,
    SeatTaken,
    SensorReading,
    SourceEvent,
)
from ..presence.engine import PresenceEngine
from ..presence.identity import IdentityResolver
from ..scoring.catalog import OfferCatalog
from ..scoring.mirror import MirrorAdvisor
from ..scoring.policy import AlertPolicy
from ..store import Database, rows
from ..store.customers import SqliteCustomers
from ..store.offers import SqliteOffers
from ..store.profiles import SqliteProfiles
from ..store.social import SqliteFriends
from .directory import DeviceDirectory, RateLimiter
from .inputs import DeadLetters, MirrorHandler, sensor_reading, staff_action
from .learned import Learned
from .moment import Moment
from .outcomes import SaleHandler, consent_change
from .ports import Ports
from .presence import PresenceHandler
from .social import Links, SocialHandler

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


def _sample(event: MirrorEvent) -> bytes:
    """What a dead letter keeps of a mirror event from a device nobody registered (and its dedup key)."""
    return json.dumps([event.session_id, event.event, event.sku, event.ts]).encode()


class Pipeline:
    """Routes each event to its handler; `tick()` does the periodic work."""

    def __init__(
        self,
        ports: Ports,
        *,
        reader: Database,
        presence: PresenceEngine,
        policy: AlertPolicy,
        on_batch: Callable[[list[str]], None] | None = None,
        on_catalog: Callable[[Callable[[str], bool]], None] | None = None,
        links: Links | None = None,
    ) -> None:
        config = ports.config
        self._ports = ports
        self._reader = reader
        self._policy = policy
        self._on_batch = on_batch
        self._on_catalog = on_catalog
        self._identity = IdentityResolver(
            SqliteCustomers(reader), rotating_uuid=config.presence.rotating_uuid, rotation_s=config.presence.rotation_s
        )
        self._devices = DeviceDirectory(config)
        self.catalog = OfferCatalog(SqliteOffers(reader))
        self._catalog_version: str | None = "never loaded"
        self._last_purge = 0.0
        self._learned = Learned(SqliteProfiles(reader), config.learning)
        advisor = MirrorAdvisor(policy.scorer, top_k=config.scoring.top_k)
        friends = SqliteFriends(reader, config.social.max_seats)
        self.social = SocialHandler(ports, friends, links or Links(lambda: "http://127.0.0.1", None, lambda: False),
                                    self._learned.categories)  # fmt: skip
        self.moment = Moment(ports, policy, self._learned, advisor, self.catalog, ports.offers_updated,
                             advice=self.social.advice_for)  # fmt: skip
        self.social.on_advice = lambda customer_id: self.moment.advised(customer_id, ports.clock())
        self.presence = PresenceHandler(
            ports, presence, self._identity, policy, self.catalog, lambda n: rows.nonce_used(reader, n), self._learned,
            self.moment,
        )  # fmt: skip
        self._mirror = MirrorHandler(
            ports, advisor, self._identity, self._devices, self.catalog, self._learned, self.moment, self.social
        )
        self._sales = SaleHandler(ports, self._identity, config, self._learned.categories)
        self._dead_letters = DeadLetters(ports, self._devices)
        self._limiter = RateLimiter(config.devices.rate_per_s, config.devices.burst)
        self.refresh()
        self.social.restore(ports.clock())

    def title(self, sku: str) -> str:
        """A product's title from the catalog (the SKU when it has none)."""
        return self._learned.categories().title(sku)

    def refresh(self) -> None:
        """Pick up customers, offers and devices changed (e.g. by the CLI) while running."""
        version = rows.state_value(self._reader, "catalog_version")
        if version == self._catalog_version:
            return
        self._catalog_version = version
        self._identity.load()
        self.catalog.reload()
        self._devices.load(self._reader)
        self._learned.reload()
        self._policy.retain(self._identity.may_recognise)
        self.presence.retain(self._identity.may_recognise)
        self.social.retain(self._identity.may_recognise)
        if self._on_catalog is not None:  # a forgotten customer's cards leave the tablets at once
            self._on_catalog(self._identity.may_recognise)

    async def roll(self, now: float) -> None:
        """Close the open bucket (and any left from before a restart) once `now` is past it."""
        effects = self._ports.aggregator.roll(now, self._on_batch)
        if effects is not None:
            await self._ports.writer.apply(effects)

    async def handle(self, item: SourceEvent, now: float) -> None:
        """Process one event; an `Acked` one is acknowledged once its effects are committed."""
        await self.roll(now)
        event, ack = (item.event, item.ack) if isinstance(item, Acked) else (item, None)
        match event:
            case Advertisement():
                if self._devices.accepts_scanner(event.scanner) or await self._admit(
                    event.scanner, "theengs-remote-scanner", event.ts, None, b""
                ):
                    await self.presence.advertisement(event, now)
            case SensorReading():
                if event.resource == "temperature":
                    self.presence.temperature = event.value
                await sensor_reading(self._ports, event)
            case MirrorEvent():
                if not (
                    self._devices.accepts(event.device_id)
                    or await self._admit(event.device_id, "smart-mirror", event.ts, ack, _sample(event))
                ):
                    return
                if not self._limiter.allow(event.device_id, now):
                    # Counted, not dropped: an acknowledged input is never lost, and the fair lanes
                    # of the queue already keep a noisy device from delaying the others.
                    self._ports.stats.over_rate[event.device_id] += 1
                await self._mirror.handle(event, ack)
            case DeadLetter():
                await self._dead_letters.handle(event, ack)
            case CheckIn():
                await self.presence.checkin(event, ack)
            case AlertAction():
                await staff_action(self._ports, event, ack)
            case Sale():
                if self._devices.accepts(event.device_id) or await self._admit(
                    event.device_id, "pos-terminal", event.ts, ack, event.sale_id.encode()
                ):
                    await self._sales.handle(event, ack)
            case ConsentChange():
                await consent_change(self._ports, event, ack, self.refresh)
            case FriendVote():
                await self.social.vote(event, ack)
            case SeatTaken():
                await self.social.seat(event, ack)
            case FriendRemembered():
                await self.social.remembered(event, ack)
            case FriendForgotten():
                await self.social.forgotten(event, ack)
            case _:
                raise TypeError(f"no handler for {type(event).__name__}")  # dead-lettered and acknowledged

    async def tick(self, now: float) -> None:
        """Periodic work: exits decided by silence, bucket roll-over, catalog refresh, retention."""
        self.refresh()
        if now - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = now
            await self.purge(now)
        await self.presence.tick(now)
        self.moment.tick(now)
        await self.social.tick(now)
        self._ports.stats.present = self.presence.present_per_zone(now)
        await self.roll(now)

    async def purge(self, now: float) -> None:
        """Forget raw, personal rows older than `privacy.retention_days` (aggregates stay)."""
        cutoff = now - self._ports.config.privacy.retention_days * 86400
        await self._ports.writer.submit(*rows.purge_before(cutoff, now))

    async def _admit(
        self, device_id: str, profile: str, ts: float, ack: Callable[[bool], None] | None, sample: bytes
    ) -> bool:
        """Register an unknown device if the config allows it; otherwise dead-letter its event."""
        if self._devices.may_register():
            self._devices.register(device_id)
            await self._ports.writer.submit(rows.auto_registered_device(device_id, profile, ts))
            log.info("auto-registered device %s (%s)", device_id, profile)
            return True
        await self._dead_letters.handle(DeadLetter(device_id, "unknown_device", ts, sample, claimed=True), ack)
        return False
