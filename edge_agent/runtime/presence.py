"""Presence and entry alerts: adverts and check-ins in, visits, counts and alerts out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ..aggregation.rollup import count, dwell
from ..beacons import beacon_of
from ..core.cards import Change, Live
from ..core.events import Advertisement, Alert, BeaconId, BeaconSighting, CheckIn, Customer, PresenceChange
from ..presence.engine import PresenceEngine
from ..presence.identity import IdentityResolver
from ..scoring.catalog import OfferCatalog
from ..scoring.policy import AlertPolicy
from ..scoring.rules import Context
from ..store import Count, Effects, Visitor, Write, outcomes, rows
from .learned import Learned, keep_away
from .moment import Moment
from .ports import Ports, after_commit

log = logging.getLogger(__name__)

Ack = Callable[[bool], None]
CHECKIN_VISIT_S = 1800.0  # a check-in keeps its customer present this long (another one refreshes it)
# A scanner may publish one advertisement twice, decoded and raw (e.g. a gateway publishing decoded
# beacons beside an external decoder's raw topic): a decoded and a raw advert of the same beacon at
# the same scanner within this window are one sighting. Two raw ones are always two.
SAME_SIGHTING_S = 0.5


class Visits:
    """Which known customers are in the store, by what evidence: one visit per presence, however
    many beacons, rotating ids and check-ins say so."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[BeaconId, float]] = {}  # customer → evidence → last seen

    def arrive(self, customer_id: str, key: BeaconId, ts: float) -> bool:
        """Record the evidence; True when this starts a visit (the customer was not present)."""
        live = self._live(self._keys.get(customer_id, {}), ts)
        started = not live
        live[key] = ts
        self._keys[customer_id] = live
        return started

    def prune(self, now: float) -> None:
        """Forget customers whose only evidence was a check-in that has run out."""
        self._keys = {cid: keys for cid, keys in self._keys.items() if self._live(keys, now)}

    @staticmethod
    def _live(keys: dict[BeaconId, float], now: float) -> dict[BeaconId, float]:
        return {k: at for k, at in keys.items() if k.kind != "checkin" or now - at < CHECKIN_VISIT_S}

    def leave(self, customer_id: str) -> None:
        """A beacon says they left: that outweighs an older check-in."""
        self._keys.pop(customer_id, None)

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Forget the visits of customers who may no longer be recognised (consent withdrawn,
        forgotten): given consent again, their next check-in is a new visit."""
        self._keys = {cid: keys for cid, keys in self._keys.items() if keep(cid)}

    def __len__(self) -> int:
        return len(self._keys)


class PresenceHandler:
    """Turns sightings into presence changes, and a known customer's entry into an alert."""

    def __init__(
        self,
        ports: Ports,
        presence: PresenceEngine,
        identity: IdentityResolver,
        policy: AlertPolicy,
        catalog: OfferCatalog,
        nonce_used: Callable[[str], bool],
        learned: Learned,
        moment: Moment,
    ) -> None:
        self._ports = ports
        self._presence = presence
        self._identity = identity
        self._policy = policy
        self._catalog = catalog
        self._nonce_used = nonce_used
        self._learned = learned
        self._moment = moment
        self._zones = ports.config.scanner_zones()
        self._visits = Visits()
        # (scanner, beacon) → the last sighting: when, decoded by the scanner?, its other copy seen?
        self._sighted: dict[tuple[str, BeaconId], tuple[float, bool, bool]] = {}
        self.temperature: float | None = None  # latest reading of any temperature sensor

    async def advertisement(self, adv: Advertisement, now: float) -> None:
        counters = self._ports.stats.counters
        counters["ble_adverts"] += 1
        self._ports.stats.device_event(adv.scanner, adv.ts)
        decoded = beacon_of(adv)
        if decoded is None:
            counters["ble_adverts_ignored"] += 1
            return
        beacon, power = decoded
        if adv.scanner not in self._zones:
            counters["ble_adverts_unzoned"] += 1
            return
        key = (adv.scanner, beacon)
        last = self._sighted.get(key)
        if last is not None and not last[2] and last[1] != adv.rebuilt and abs(adv.ts - last[0]) < SAME_SIGHTING_S:
            self._sighted[key] = (last[0], last[1], True)
            counters["ble_adverts_repeated"] += 1
            return
        self._sighted[key] = (adv.ts, adv.rebuilt, False)
        sighting = BeaconSighting(beacon, adv.rssi, adv.scanner, adv.ts, power)
        for change in self._presence.observe(sighting, self._identity.key_for(beacon, adv.ts), now):
            await self.change(change)

    def retain(self, keep: Callable[[str], bool]) -> None:
        self._visits.retain(keep)

    async def tick(self, now: float) -> None:
        for change in self._presence.tick(now):
            await self.change(change)
        self._visits.prune(now)
        self._sighted = {k: seen for k, seen in self._sighted.items() if now - seen[0] < SAME_SIGHTING_S}

    async def checkin(self, event: CheckIn, ack: Ack | None) -> None:
        """A verified app check-in is an entry at the first zone; its nonce is claimed with it."""
        guard = rows.nonce(event.nonce, event.exp)
        if self._nonce_used(event.nonce):  # already committed: refuse before deciding anything
            if ack is not None:
                ack(False)
            return
        if self._identity.customer_by_id(event.customer_id) is None:
            self._ports.stats.counters["checkins_unrecognised"] += 1  # unknown or no consent: nothing stored
            await self._ports.apply(Effects(guard=guard, on_commit=ack, urgent=True))
            return
        self._ports.stats.counters["checkins"] += 1
        zone = self._ports.config.zones[0].id
        change = PresenceChange(BeaconId("checkin", event.customer_id), "present", zone, event.ts, decided_at=event.ts)
        await self.change(change, guard=guard, ack=ack)

    async def change(self, change: PresenceChange, *, guard: Write | None = None, ack: Ack | None = None) -> None:
        customer = self._identity.customer_for(change.beacon)
        zone = change.zone or "unknown"
        if change.state in ("away", "moved"):
            left = change.previous_zone if change.state == "moved" else zone
            who = self._ports.subject(customer.customer_id if customer else str(change.beacon))
            counts = dwell(left, change.dwell_s, who) if change.dwell_s is not None and left is not None else ()
            writes = (
                (rows.visit(customer.customer_id, zone, change.ts),) if change.state == "moved" and customer else ()
            )
            if counts or writes:
                await self._ports.apply(Effects(writes=writes, counts=counts))
            if customer is not None:  # the card follows them: the zone, or "left the store"
                if change.state == "away":
                    self._visits.leave(customer.customer_id)
                    self._moment.left(customer.customer_id)
                moved = change.state == "moved"
                self._ports.updates(
                    Change(Live(zone=zone if moved else None, left=not moved), customer_id=customer.customer_id)
                )
            return
        if customer is None:
            await self._ports.apply(Effects(visitors=(Visitor("anonymous", self._ports.subject(str(change.beacon))),)))
            return
        if not self._visits.arrive(customer.customer_id, change.beacon, change.ts):
            # Already in the store (another beacon, a rotation, a check-in): this refreshes the visit.
            self._ports.stats.counters["visits_refreshed"] += 1
            if guard is not None or ack is not None:
                await self._ports.apply(Effects(guard=guard, on_commit=ack, urgent=True))
            return
        await self._entry(customer, change, zone, guard, ack)

    async def _entry(
        self, customer: Customer, change: PresenceChange, zone: str, guard: Write | None, ack: Ack | None
    ) -> None:
        local = datetime.fromtimestamp(change.ts)
        now = time.time()
        personal, taste = self._learned.personalised(customer, now)
        owned = self._learned.owned(customer, now)
        context = Context(
            zone=zone, hour=local.hour, weekday=local.weekday(), dwell_s=change.dwell_s or 0.0,
            temperature_c=self.temperature, affinities=taste.affinities, owned=tuple(s for s, _, _ in owned),
        )  # fmt: skip
        outcome = self._policy.decide(
            personal, self._catalog, context, change.ts, rerank=lambda ranked: keep_away(ranked, self._catalog, taste)
        )
        self._ports.stats.counters[f"entries_{outcome.decision}"] += 1
        alert = outcome.alert
        group = {"alert": "treatment", "holdout": "holdout"}.get(outcome.decision)
        shown = [o.offer_id for o in alert.offers] if alert is not None else []
        writes: list[Write] = [*outcomes.entry(customer.customer_id, zone, change.ts, group, shown)]
        who = self._ports.subject(customer.customer_id)
        counts: list[Count] = [count("visits_decided", group=group, subject=who)] if group else []
        counts += [count("offers_shown", offer_id=o, group=group or "none", subject=who) for o in shown]
        emit = None
        if alert is not None and outcome.decision == "alert":  # holdout: scored and counted, never shown
            hints = self._learned.hints(customer, alert.offers, self._catalog, owned, now)
            alert = replace(alert, hints=tuple(hints))
            writes.append(rows.alert(alert.alert_id, alert.ts, alert.customer_id, alert.zone, alert.card()))
            counts.append(count("alerts_sent", subject=who))
            emit = self._emitter(alert)
        await self._ports.apply(
            Effects(
                guard=guard,
                writes=tuple(writes),
                counts=tuple(counts),
                visitors=(Visitor("known", who),),
                on_commit=after_commit(ack, emit),
                urgent=emit is not None or ack is not None,
            )
        )

    def _emitter(self, alert: Alert) -> Callable[[], None]:
        def emit() -> None:
            self._ports.alerts(alert)
            self._moment.entered(alert)
            log.info(
                "alert %s: customer %s entered %s", alert.alert_id, self._ports.pseudonym(alert.customer_id), alert.zone
            )

        return emit

    def present_per_zone(self, now: float) -> dict[str, int]:
        return self._presence.per_zone(now)
