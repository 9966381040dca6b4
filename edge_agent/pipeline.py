"""The one-way flow: source events → decoders → presence / scoring / aggregation → sinks."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from .aggregation.rollup import Aggregator
from .config import AgentConfig
from .decoders.beacons import beacon_of
from .model import (
    Advertisement,
    AlertAction,
    BeaconId,
    BeaconSighting,
    CheckIn,
    DeadLetter,
    MirrorEvent,
    Offer,
    PresenceChange,
    SensorReading,
)
from .presence.engine import PresenceEngine
from .presence.identity import IdentityResolver
from .scoring.mirror import MirrorAdvisor
from .scoring.policy import AlertPolicy, load_offers
from .scoring.rules import Context
from .sinks.alerts import AlertSink, SuggestionSink
from .sources.base import Acked, SourceEvent
from .stats import AgentStats
from .store import StoreWriter, Write

log = logging.getLogger(__name__)


PURGE_EVERY_S = 3600.0
CHECKPOINT_EVERY_S = 60.0


class RecentKeys:
    """A bounded set of recently seen keys (redelivered MQTT messages are counted once)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True if `key` is new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True


class BurstLog:
    """Log the first of a burst per (device, reason); stay quiet until it has been calm for a window."""

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._last: dict[tuple[str, str], float] = {}

    def first_in_burst(self, device: str, reason: str, ts: float) -> bool:
        key = (device, reason)
        last = self._last.get(key)
        self._last[key] = ts
        if len(self._last) > 10_000:
            self._last.clear()
        return last is None or ts - last > self._window_s


class DeviceDirectory:
    """Which devices may send: registered ones, scanners named in zones, `local`, or any if auto_register."""

    def __init__(self, config: AgentConfig) -> None:
        self.auto_register = config.devices.auto_register
        self._scanners = {s for zone in config.zones for s in zone.scanners} | {"local"}
        self._registered: set[str] = set()
        self._zones: dict[str, str | None] = {}

    def load(self, reader: sqlite3.Connection) -> None:
        self._zones = dict(reader.execute("SELECT id, zone FROM devices").fetchall())
        self._registered = set(self._zones)

    def zone_of(self, device_id: str) -> str | None:
        zone: str | None = self._zones.get(device_id)
        return zone

    def register(self, device_id: str) -> None:
        self._registered.add(device_id)

    def accepts(self, device_id: str) -> bool:
        return device_id in self._registered

    def accepts_scanner(self, scanner: str) -> bool:
        return scanner in self._scanners or scanner in self._registered


class Pipeline:
    """Routes each event through the engines and hands decisions to the sinks."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        reader: sqlite3.Connection,
        writer: StoreWriter,
        presence: PresenceEngine,
        policy: AlertPolicy,
        aggregator: Aggregator,
        sinks: Sequence[AlertSink],
        stats: AgentStats,
        suggestions: SuggestionSink | None = None,
    ) -> None:
        self._config = config
        self._reader = reader
        self._writer = writer
        self._presence = presence
        self._policy = policy
        self._aggregator = aggregator
        self._sinks = sinks
        self._stats = stats
        self._suggestions = suggestions
        self._advisor = MirrorAdvisor(policy.scorer, top_k=config.scoring.top_k)
        self._temperature: float | None = None  # latest reading of any temperature sensor
        self._last_purge = 0.0
        self._last_checkpoint = time.time()
        self._identity = IdentityResolver(
            reader, rotating_uuid=config.presence.rotating_uuid, rotation_s=config.presence.rotation_s
        )
        self._devices = DeviceDirectory(config)
        self._recent = RecentKeys(20_000)
        self._dead_letter_log = BurstLog(window_s=60.0)
        self._offers: list[Offer] = []
        self._catalog_version: str | None = "never loaded"
        self.refresh()

    def refresh(self) -> None:
        """Pick up customers, offers and devices changed (e.g. by the CLI) while running."""
        row = self._reader.execute("SELECT value FROM state WHERE key = 'catalog_version'").fetchone()
        version = row[0] if row else None
        if version == self._catalog_version:
            return
        self._catalog_version = version
        self._identity.load()
        self._offers = load_offers(self._reader)
        self._devices.load(self._reader)

    async def handle(self, item: SourceEvent, now: float) -> None:
        """Process one event; an `Acked` one is acknowledged once its effects are committed."""
        await self._aggregator.roll(now)
        event, ack = (item.event, item.ack) if isinstance(item, Acked) else (item, None)
        match event:
            case Advertisement():
                if not self._devices.accepts_scanner(event.scanner) and not await self._admit(
                    event.scanner, "theengs-remote-scanner", event.ts, ack
                ):
                    return
                await self._advertisement(event, now)
            case SensorReading():
                self._stats.device_event(event.device_id, event.ts)
                self._aggregator.sensor(event.device_id, event.resource, event.value, event.ts)
                if event.resource == "temperature":
                    self._temperature = event.value
            case MirrorEvent():
                if not self._devices.accepts(event.device_id) and not await self._admit(
                    event.device_id, "smart-mirror", event.ts, ack
                ):
                    return
                await self._mirror(event, ack)
                return
            case DeadLetter():
                await self._dead_letter(event, ack)
                return
            case CheckIn():
                await self._checkin(event)
            case AlertAction():
                await self._alert_action(event, ack)
                return
        if ack is not None:
            ack()

    async def tick(self, now: float) -> None:
        """Periodic work: exits decided by silence, bucket roll-over, catalog refresh, retention."""
        self.refresh()
        if now - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = now
            await self.purge(now)
        if now - self._last_checkpoint >= CHECKPOINT_EVERY_S:
            # A power cut loses at most this much of the open bucket's counts.
            self._last_checkpoint = now
            await self._aggregator.checkpoint()
        for change in self._presence.tick(now):
            await self._presence_change(change)
        self._stats.present = self.present_per_zone()
        await self._aggregator.roll(now)

    async def _advertisement(self, adv: Advertisement, now: float) -> None:
        self._stats.counters["ble_adverts"] += 1
        self._stats.device_event(adv.scanner, adv.ts)
        decoded = beacon_of(adv)
        if decoded is None:
            self._stats.counters["ble_adverts_ignored"] += 1
            return
        beacon, power = decoded
        zone = self._config.zone_of_scanner(adv.scanner)
        if zone is None:
            self._stats.counters["ble_adverts_unzoned"] += 1
            return
        sighting = BeaconSighting(beacon, adv.rssi, adv.scanner, adv.ts, power)
        for change in self._presence.observe(sighting, self._identity.key_for(beacon, adv.ts), now):
            await self._presence_change(change)

    async def purge(self, now: float) -> None:
        """Forget raw, personal rows older than `privacy.retention_days` (aggregates stay)."""
        cutoff = now - self._config.privacy.retention_days * 86400
        await self._writer.submit(
            Write("DELETE FROM events WHERE ts < ?", (cutoff,)),
            Write("DELETE FROM visits WHERE entered_at < ?", (cutoff,)),
            Write("DELETE FROM alerts WHERE ts < ?", (cutoff,)),
            Write("DELETE FROM dead_letters WHERE ts < ?", (cutoff,)),
        )

    def present_per_zone(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for zone in self._presence.present.values():
            counts[zone or "unknown"] = counts.get(zone or "unknown", 0) + 1
        return counts

    async def _presence_change(self, change: PresenceChange) -> None:
        customer = self._identity.customer_for(change.beacon)
        zone = change.zone or "unknown"
        if change.state in ("away", "moved"):
            left = change.previous_zone if change.state == "moved" else zone
            if change.dwell_s is not None and left is not None:
                self._aggregator.dwell(left, change.dwell_s, change.ts)
            if change.state == "moved" and customer is not None:
                await self._writer.submit(
                    Write(
                        "INSERT INTO visits(customer_id, zone, entered_at) VALUES (?, ?, ?)",
                        (customer.customer_id, zone, change.ts),
                    )
                )
            return
        if customer is None:
            self._aggregator.visitor("anonymous", self._identity.anonymous_key(change.beacon, change.ts), change.ts)
            return
        self._aggregator.visitor("known", customer.customer_id, change.ts)
        await self._writer.submit(
            Write(
                "INSERT INTO visits(customer_id, zone, entered_at) VALUES (?, ?, ?)",
                (customer.customer_id, zone, change.ts),
            )
        )
        local = datetime.fromtimestamp(change.ts)
        context = Context(
            zone=zone,
            hour=local.hour,
            weekday=local.weekday(),
            dwell_s=change.dwell_s or 0.0,
            temperature_c=self._temperature,
        )
        outcome = self._policy.decide(customer, self._offers, context, change.ts)
        self._stats.counters[f"entries_{outcome.decision}"] += 1
        alert = outcome.alert
        if alert is None:
            return
        group = "holdout" if outcome.decision == "holdout" else "treatment"
        for offer in alert.offers:
            self._aggregator.count("offers_shown", change.ts, offer_id=offer.offer_id, group=group)
        if outcome.decision == "holdout":
            return  # scored and counted for uplift, never shown
        for sink in self._sinks:
            await sink.deliver(alert)
        self._aggregator.count("alerts_sent", change.ts)
        log.info("alert %s: %s entered %s", alert.alert_id, alert.display_name, zone)

    async def _checkin(self, event: CheckIn) -> None:
        """A verified app check-in counts as an entry at the first zone (the store's door)."""
        if self._identity.customer_by_id(event.customer_id) is None:
            self._stats.counters["checkins_unrecognised"] += 1  # unknown or no consent: nothing stored
            return
        self._stats.counters["checkins"] += 1
        zone = self._config.zones[0].id
        change = PresenceChange(BeaconId("checkin", event.customer_id), "present", zone, event.ts, decided_at=event.ts)
        await self._presence_change(change)

    async def _alert_action(self, event: AlertAction, ack: Callable[[], None] | None) -> None:
        self._aggregator.count("alert_actions", event.ts, action=event.action)
        if event.action == "accepted" and event.offer_id:
            self._aggregator.count("offers_accepted", event.ts, offer_id=event.offer_id, group="treatment")
        await self._writer.submit(
            Write(
                "UPDATE alerts SET action = ?, action_offer_id = ?, action_ts = ? WHERE alert_id = ?",
                (event.action, event.offer_id, event.ts, event.alert_id),
            ),
            on_commit=ack,
        )

    async def _admit(self, device_id: str, profile: str, ts: float, ack: Callable[[], None] | None) -> bool:
        """Register an unknown device if the config allows it; otherwise dead-letter its event."""
        if self._devices.auto_register:
            self._devices.register(device_id)
            await self._writer.submit(
                Write(
                    """INSERT OR IGNORE INTO devices(id, profile, transport, settings, auto_registered, created_at)
                       VALUES (?, ?, 'mqtt', '{}', 1, ?)""",
                    (device_id, profile, ts),
                )
            )
            log.info("auto-registered device %s (%s)", device_id, profile)
            return True
        await self._dead_letter(DeadLetter(device_id, "unknown_device", ts), ack)
        return False

    async def _mirror(self, event: MirrorEvent, ack: Callable[[], None] | None) -> None:
        self._stats.device_event(event.device_id, event.ts)
        body = json.dumps(
            {
                "event": event.event,
                "session_id": event.session_id,
                "sku": event.sku,
                "ts": event.ts,
                "customer_ref": event.customer_ref,
            }
        )
        key = f"mirror:{event.device_id}:{hashlib.blake2b(body.encode(), digest_size=12).hexdigest()}"
        if self._recent.add(key):
            if event.event == "session_start":
                self._aggregator.count("mirror_sessions", event.ts, device=event.device_id)
            elif event.event == "try_on" and event.sku:
                self._aggregator.count("mirror_try_ons", event.ts, sku=event.sku)
            elif event.event == "like" and event.sku:
                self._aggregator.count("mirror_likes", event.ts, sku=event.sku)
            await self._suggest(event)
        await self._writer.submit(
            Write(
                """INSERT OR IGNORE INTO events(ts, device_id, kind, payload, customer_id, dedup_key)
                   VALUES (?, ?, 'mirror', ?, ?, ?)""",
                (event.ts, event.device_id, body, event.customer_ref, key),
            ),
            on_commit=ack,
        )

    async def _suggest(self, event: MirrorEvent) -> None:
        zone = self._devices.zone_of(event.device_id) or "fitting-rooms"
        customer = self._identity.customer_by_id(event.customer_ref)
        suggestions = self._advisor.observe(event, customer, self._offers, zone)
        if suggestions and self._suggestions is not None:
            await self._suggestions.deliver(event, suggestions)

    async def _dead_letter(self, letter: DeadLetter, ack: Callable[[], None] | None = None) -> None:
        self._stats.dead_letters[(letter.device_id, letter.reason)] += 1
        self._aggregator.count("dead_letters", letter.ts, device=letter.device_id, reason=letter.reason)
        await self._writer.submit(
            Write(
                "INSERT INTO dead_letters(ts, device_id, reason, detail, sample) VALUES (?, ?, ?, ?, ?)",
                (letter.ts, letter.device_id, letter.reason, letter.detail[:500], letter.sample[:4096]),
            ),
            Write(
                """INSERT INTO dead_letter_counts(device_id, reason, count, last_ts) VALUES (?, ?, 1, ?)
                   ON CONFLICT(device_id, reason) DO UPDATE SET count = count + 1, last_ts = excluded.last_ts""",
                (letter.device_id, letter.reason, letter.ts),
            ),
            on_commit=ack,
        )
        if self._dead_letter_log.first_in_burst(letter.device_id, letter.reason, letter.ts):
            log.warning("dead letter from %s: %s %s", letter.device_id, letter.reason, letter.detail[:200])


def last_alerts(reader: sqlite3.Connection, since: float) -> list[tuple[str, float]]:
    """(customer_id, ts) of alerts since `since`, to seed cooldowns after a restart."""
    return [(c, t) for c, t in reader.execute("SELECT customer_id, ts FROM alerts WHERE ts >= ?", (since,))]
