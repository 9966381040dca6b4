"""The one-way flow: source events → decoders → presence / scoring / aggregation → sinks."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from .aggregation.rollup import Aggregator
from .config import AgentConfig
from .decoders.beacons import beacon_of
from .model import Advertisement, BeaconSighting, DeadLetter, MirrorEvent, PresenceChange, SensorReading
from .presence.identity import IdentityResolver
from .presence.threshold import ThresholdPresence
from .scoring.policy import AlertPolicy, load_offers
from .sinks.alerts import AlertSink
from .sources.base import SourceEvent
from .stats import AgentStats
from .store import StoreWriter, Write

log = logging.getLogger(__name__)


class Pipeline:
    """Routes each event through the engines and hands decisions to the sinks."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        reader: sqlite3.Connection,
        writer: StoreWriter,
        presence: ThresholdPresence,
        policy: AlertPolicy,
        aggregator: Aggregator,
        sinks: Sequence[AlertSink],
        stats: AgentStats,
    ) -> None:
        self._config = config
        self._reader = reader
        self._writer = writer
        self._presence = presence
        self._policy = policy
        self._aggregator = aggregator
        self._sinks = sinks
        self._stats = stats
        self._identity = IdentityResolver(reader)
        self._offers = load_offers(reader)
        self._identity.refresh()

    def refresh(self) -> None:
        """Pick up customers and offers imported by the CLI while running."""
        if self._identity.refresh():
            self._offers = load_offers(self._reader)

    async def handle(self, event: SourceEvent, now: float) -> None:
        await self._aggregator.roll(now)
        match event:
            case Advertisement():
                await self._advertisement(event, now)
            case SensorReading():
                self._stats.device_event(event.device_id, event.ts)
                self._aggregator.sensor(event.device_id, event.resource, event.value, event.ts)
            case MirrorEvent():
                self._stats.device_event(event.device_id, event.ts)
            case DeadLetter():
                await self._dead_letter(event)

    async def tick(self, now: float) -> None:
        """Periodic work: exits decided by silence, bucket roll-over, catalog refresh."""
        self.refresh()
        for change in self._presence.tick(now):
            await self._presence_change(change)
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
        change = self._presence.observe(sighting, zone, now)
        if change is not None:
            await self._presence_change(change)

    async def _presence_change(self, change: PresenceChange) -> None:
        customer = self._identity.customer_for(change.beacon)
        zone = change.zone or "unknown"
        if change.state == "away":
            if change.dwell_s is not None:
                self._aggregator.dwell(zone, change.dwell_s, change.ts)
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
        outcome = self._policy.decide(customer, zone, self._offers, change.ts)
        self._stats.counters[f"entries_{outcome.decision}"] += 1
        if outcome.alert is None:
            return
        alert = outcome.alert
        for sink in self._sinks:
            await sink.deliver(alert)
        self._aggregator.count("alerts_sent", change.ts)
        for offer in alert.offers:
            self._aggregator.count("offers_shown", change.ts, offer_id=offer.offer_id, group="treatment")
        log.info("alert %s: %s entered %s", alert.alert_id, alert.display_name, zone)

    async def _dead_letter(self, letter: DeadLetter) -> None:
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
        )


def last_alerts(reader: sqlite3.Connection, since: float) -> list[tuple[str, float]]:
    """(customer_id, ts) of alerts since `since`, to seed cooldowns after a restart."""
    return [(c, t) for c, t in reader.execute("SELECT customer_id, ts FROM alerts WHERE ts >= ?", (since,))]
