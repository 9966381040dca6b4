"""Handlers for mirror events, sensor readings, staff actions and dead letters."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence

from ..aggregation.rollup import count
from ..core.cards import Activity, Change, Item, Live
from ..core.events import Alert, AlertAction, AlertKind, Customer, DeadLetter, MirrorEvent, SensorReading, SizeAsked
from ..core.mirror import MirrorKind
from ..learning.profile import SIGNALS
from ..mirror import rules
from ..presence.identity import IdentityResolver
from ..scoring.advice import advised
from ..scoring.catalog import OfferCatalog
from ..scoring.mirror import MirrorAdvisor
from ..store import Count, Effects, Operation, Sample, Write, labels_of, outcomes, rows
from .directory import BurstLog, DeviceDirectory, Sampler
from .learned import Learned
from .moment import Moment
from .outcomes import source_key
from .ports import Ack, Ports, after_commit
from .social import SocialHandler

log = logging.getLogger(__name__)

PAIR_WITH = 24  # SKUs of a session that a new try-on or like is paired with


def _normalised(event: MirrorEvent) -> str:
    """The row of a mirror event that came without its payload (e.g. from a simulator)."""
    return json.dumps(
        {"event": event.event, "session_id": event.session_id, "sku": event.sku, "ts": event.ts,
         "customer_ref": event.customer_ref}
    )  # fmt: skip


@functools.lru_cache(maxsize=4096)  # a few metrics x bounded SKUs and devices
def _mirror_labels(kind: str, device_id: str, sku: str | None) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    metric = rules(kind).metric
    if metric == "mirror_sessions":
        return metric, labels_of(device=device_id)
    if metric is not None and sku:
        return metric, labels_of(sku=sku)
    return None


def _mirror_counts(event: MirrorEvent, subject: Callable[[str], str]) -> tuple[Count, ...]:
    """The event's count, backed by its session (one session is one shopper, for k-anonymity)."""
    labelled = _mirror_labels(event.event, event.device_id, event.sku)
    if labelled is None:
        return ()
    return (Count(labelled[0], labelled[1], 1.0, subject(f"mirror|{event.device_id}|{event.session_id}")),)


def dedup_key(kind: str, device_id: str, body: str | bytes) -> str:
    """The same input redelivered (e.g. an unacked QoS 1 message after a crash) has the same key."""
    raw = body.encode() if isinstance(body, str) else body
    return f"{kind}:{device_id}:{hashlib.blake2b(raw, digest_size=12).hexdigest()}"


class MirrorHandler:
    """Stores mirror events once, counts them, and suggests accessories on try-on and like."""

    def __init__(
        self,
        ports: Ports,
        advisor: MirrorAdvisor,
        identity: IdentityResolver,
        devices: DeviceDirectory,
        catalog: OfferCatalog,
        learned: Learned,
        moment: Moment,
        social: SocialHandler,
    ) -> None:
        self._ports = ports
        self._moment = moment
        self._social = social
        self._advisor = advisor
        self._identity = identity
        self._devices = devices
        self._catalog = catalog
        self._learned = learned
        self._half_life_s = ports.config.learning.half_life_s

    async def handle(self, event: MirrorEvent, ack: Ack | None) -> None:
        self._ports.stats.device_event(event.device_id, event.ts)
        body = event.raw or _normalised(event)
        key = dedup_key("mirror", event.device_id, body)
        counts = _mirror_counts(event, self._ports.subject)
        zone = self._devices.zone_of(event.device_id) or "fitting-rooms"
        customer = self._identity.customer_by_id(event.customer_ref)
        plan = self._social.mirror(event, customer, lambda: self._seen(event))  # before the session may close
        often: list[str] = []
        kind = rules(event.event)
        if event.sku is not None and kind.wears:
            often = [s for s, _, _ in self._learned.also_liked(event.sku, event.ts, frozenset())]
        suggestions = self._advisor.observe(
            event, customer, self._catalog, zone, self._learned.categories(), also_liked=often
        )
        if suggestions:
            session = self._advisor.session(event.device_id, event.session_id)
            advice = self._social.advice_for(event.device_id, event.session_id)
            suggestions = advised(suggestions, self._catalog, advice, session.dislikes if session else ())
        also = self._also_liked(event) if often else []

        staff_alert = self._size_request(event, zone, customer) if event.event == MirrorKind.SIZE_REQUEST else None

        others = self._paired_with(event)
        writes, teach = self._teach(event, customer.customer_id if customer else None, others)
        paired = [event.sku, *others] if event.sku and others else []  # cached also-liked to read afresh

        def after() -> None:
            plan.after()
            self._learned.invalidate(paired)
            if suggestions is not None and (suggestions or also):
                self._ports.suggestions((event, suggestions, also))
            if staff_alert is not None:
                self._ports.alerts(staff_alert)
            if customer is not None and event.sku and kind.activity:
                self._ports.updates(Change(Live(mirror=self._activity(event)), customer_id=customer.customer_id))
            if customer is not None:
                self._moment.evidence(customer, event, zone, time.time())

        if staff_alert is not None:
            card = staff_alert.card()
            writes += (rows.alert(staff_alert.alert_id, staff_alert.ts, staff_alert.customer_id or None, zone, card),)
        await self._ports.apply(
            Effects(
                guard=rows.event(event.ts, event.device_id, "mirror", body, event.customer_ref, key),
                writes=writes + plan.writes,
                ops=teach,
                counts=counts + plan.counts,
                on_commit=after_commit(ack, after, plan.undo),
                urgent=staff_alert is not None,
            )
        )

    def _seen(self, event: MirrorEvent) -> tuple[list[str], list[str]]:
        """What this session tried or liked, and what it disliked, so far."""
        session = self._advisor.session(event.device_id, event.session_id)
        if session is None:
            return [], []
        return list(dict.fromkeys([*session.try_ons, *session.likes])), list(session.dislikes)

    def _size_request(self, event: MirrorEvent, zone: str, customer: Customer | None) -> Alert:
        """A shopper in a fitting room asks for another size: a staff alert of its own (docs/interface.md)."""
        title = self._learned.categories().title(event.sku or "")
        return Alert(
            alert_id=uuid.uuid4().hex,
            ts=time.time(),
            customer_id=customer.customer_id if customer else "",
            display_name=customer.display_name if customer else "",
            tier=customer.tier if customer else "",
            zone=zone,
            offers=(),
            kind=AlertKind.SIZE_REQUEST,
            asked=SizeAsked(event.sku, title, event.size, event.device_id, event.session_id),
        )

    def _activity(self, event: MirrorEvent) -> Activity | None:
        """What this visit tried, liked and disliked, with titles, for the live card."""
        session = self._advisor.session(event.device_id, event.session_id)
        titles = self._learned.categories()

        def named(skus: Sequence[str]) -> tuple[Item, ...]:
            return tuple(Item(s, titles.title(s)) for s in skus)

        if session is None:
            return None
        return Activity(named(session.try_ons), named(session.likes), named(session.dislikes))

    def _teach(
        self, event: MirrorEvent, customer_id: str | None, others: list[str]
    ) -> tuple[tuple[Write, ...], tuple[Operation, ...]]:
        """A consenting customer's taste moves; SKUs tried or liked in one session become a pair."""
        if event.sku is None:
            return (), ()
        taste: tuple[Operation, ...] = ()
        signal = rules(event.event).teaches
        if customer_id is not None and signal is not None:
            taste = (outcomes.LearnFromSku(customer_id, event.sku, signal, event.ts, self._half_life_s),)
        if not others:
            return (), taste
        source = source_key("mirror", f"{event.device_id}/{event.session_id}")
        return tuple(outcomes.pair(source, event.sku, other, event.ts) for other in others), taste

    def _paired_with(self, event: MirrorEvent) -> list[str]:
        """The other SKUs tried or liked in this session, the newest PAIR_WITH of them: a try-on
        or like pairs with each (bounded, so that a session of a thousand try-ons costs no more
        per event than one of thirty)."""
        session = self._advisor.session(event.device_id, event.session_id)
        if not rules(event.event).wears or session is None or event.sku is None:
            return []
        skip = {event.sku, *session.dislikes}
        newest = [s for s in reversed([*session.try_ons, *session.likes]) if s not in skip]
        return sorted(list(dict.fromkeys(newest))[:PAIR_WITH])

    def _also_liked(self, event: MirrorEvent) -> list[tuple[str, str, int]]:
        """Often liked with what was tried; never a disliked SKU or its category back in this session."""
        session = self._advisor.session(event.device_id, event.session_id)
        if session is None or event.sku is None:
            return []
        products = self._learned.categories()
        disliked_categories = frozenset(products.category(s) for s in session.dislikes) - {""}
        exclude = frozenset({*session.dislikes, *session.try_ons})
        return self._learned.also_liked(event.sku, event.ts, exclude, avoid=disliked_categories)


async def sensor_reading(ports: Ports, event: SensorReading) -> None:
    ports.stats.device_event(event.device_id, event.ts)
    await ports.apply(Effects(samples=(Sample(event.device_id, event.resource, event.value),)))


async def staff_action(ports: Ports, event: AlertAction, ack: Ack | None) -> None:
    """Ack / Accepted / Dismiss from a tablet: the same action on the same alert counts once."""
    who = ports.subject(f"alert|{event.alert_id}")  # one alert, one customer's visit
    counts = [count("alert_actions", action=event.action, subject=who)]
    if event.action == "accepted" and event.offer_id:
        counts.append(count("offers_accepted", offer_id=event.offer_id, group="treatment", subject=who))
    writes = (rows.alert_action(event.alert_id, event.action, event.ts, event.offer_id),)
    teach: tuple[Operation, ...] = ()
    signal = SIGNALS.get(event.action)
    if signal is not None:  # what staff saw the customer take or turn down teaches their profile too
        half_life_s = ports.config.learning.half_life_s
        teach = (outcomes.LearnFromStaff(event.alert_id, event.offer_id, signal, event.ts, half_life_s),)
    await ports.apply(
        Effects(
            guard=rows.staff_action(event.alert_id, event.action, event.ts, event.offer_id),
            writes=writes,
            ops=teach,
            counts=tuple(counts),
            # Every tablet sees the card taken (e.g. a size request: one "on my way" is enough).
            on_commit=after_commit(
                ack, lambda: ports.updates(Change(Live(action=event.action), alert_id=event.alert_id))
            ),
            urgent=True,
        )
    )


class DeadLetters:
    """Bad input: counted per device and reason, a bounded sample kept, logged once per burst.

    Senders nobody registered are folded into one `unknown` device, so invented ids cannot grow
    the counters, the metrics or the uplink batch.
    """

    def __init__(self, ports: Ports, devices: DeviceDirectory) -> None:
        self._ports = ports
        self._devices = devices
        self._log = BurstLog(window_s=60.0)
        self._sampler = Sampler()

    async def handle(self, letter: DeadLetter, ack: Ack | None) -> None:
        device = self._devices.label(letter.device_id) if letter.claimed else letter.device_id
        detail = letter.detail if device == letter.device_id else f"sent as {letter.device_id[:64]!r}; {letter.detail}"
        self._ports.stats.dead_letters[(device, letter.reason)] += 1
        # A redelivered bad message (acked inputs only) is the same evidence, not a new one.
        guard = (
            rows.seen(dedup_key(f"dl:{letter.reason}", letter.device_id, letter.sample), letter.ts)
            if ack is not None
            else None
        )
        writes = [rows.dead_letter_count(letter.ts, device, letter.reason)]
        if self._sampler.take(device, letter.reason, letter.ts):
            writes.append(rows.dead_letter_sample(letter.ts, device, letter.reason, detail, letter.sample))
        await self._ports.apply(
            Effects(
                guard=guard,
                writes=tuple(writes),
                counts=(count("dead_letters", device=device, reason=letter.reason),),
                on_commit=ack,
            )
        )
        if self._log.first_in_burst(device, letter.reason, letter.ts):
            # The reason and the device, not the detail: it can quote what a sender sent.
            log.warning("dead letter from %s: %s (sample in the dead_letters table)", device, letter.reason)
