"""Offers that follow the moment: mirror evidence during a visit re-ranks the card's offers.

While a known customer's entry card is live, each try-on, like, dislike or size request at a
mirror re-scores their offers with that visit's evidence and what it taught their profile. When
the top-k changes, the tablets get an SSE `update` with the new `offers` and `{topic_prefix}/alerts`
an `offers_updated` event — at most once per card every `MIN_GAP_S`. Re-ranking waits until the
evidence has settled (no more for `SETTLE_S`, checked on each tick), not on the event itself: a
mirror sends a try-on and a like together, and the card should move once, with both; evidence
within the gap is kept and its re-ranking sent when the gap is over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..core.cards import Change, Live
from ..core.events import Alert, AlertKind, Customer, MirrorEvent, OffersUpdated, ScoredOffer
from ..mirror import rules
from ..scoring.advice import advised
from ..scoring.catalog import OfferCatalog
from ..scoring.mirror import MirrorAdvisor
from ..scoring.policy import AlertPolicy
from ..scoring.rules import Context
from .learned import Learned, keep_away
from .ports import Ports

MIN_GAP_S = 30.0
SETTLE_S = 1.0
SETTLE_MAX_S = 5.0  # a mirror that never goes quiet still moves the card


@dataclass(slots=True)
class _Card:
    alert_id: str
    offers: tuple[str, ...]
    pushed: float = -math.inf
    pending: tuple[Customer, MirrorEvent, str] | None = None
    evidence_at: float = -math.inf
    pending_since: float = math.inf
    last: tuple[Customer, MirrorEvent, str] | None = None  # the newest evidence, for friends' advice


@dataclass(slots=True)
class Moment:
    """See the module docstring; `entered`/`left` follow the cards, `evidence` the mirrors."""

    ports: Ports
    policy: AlertPolicy
    learned: Learned
    advisor: MirrorAdvisor
    catalog: OfferCatalog
    publish: Callable[[OffersUpdated], None]
    min_gap_s: float = MIN_GAP_S
    # friends' advice per SKU for a mirror session: (device_id, session_id) → {sku: A}
    advice: Callable[[str, str], dict[str, float]] = lambda device, session: {}
    _cards: dict[str, _Card] = field(default_factory=dict)
    updates_sent: int = 0

    def entered(self, alert: Alert) -> None:
        if alert.kind == AlertKind.ENTRY:
            self._cards[alert.customer_id] = _Card(alert.alert_id, tuple(o.offer_id for o in alert.offers))

    def left(self, customer_id: str) -> None:
        self._cards.pop(customer_id, None)

    def evidence(self, customer: Customer, event: MirrorEvent, zone: str, now: float) -> None:
        card = self._cards.get(customer.customer_id)
        if card is None or not rules(event.event).evidence:
            return
        if card.pending is None:
            card.pending_since = now
        card.pending, card.evidence_at = (customer, event, zone), now
        card.last = card.pending

    def advised(self, customer_id: str, now: float) -> None:
        """Friends voted: the card re-ranks with the advice, as it does with the shopper's own evidence."""
        card = self._cards.get(customer_id)
        if card is None or card.last is None:
            return
        if card.pending is None:
            card.pending_since = now
        card.pending, card.evidence_at = card.last, now

    def tick(self, now: float) -> None:
        for card in self._cards.values():
            settled = now - card.evidence_at >= SETTLE_S or now - card.pending_since >= SETTLE_MAX_S
            if card.pending is not None and settled and now - card.pushed >= self.min_gap_s:
                self._rerank(card, now)

    def _rerank(self, card: _Card, now: float) -> None:
        assert card.pending is not None
        customer, event, zone = card.pending
        card.pending = None
        ranked = self._score(customer, event, zone)
        if tuple(o.offer_id for o in ranked) == card.offers:
            return
        card.offers, card.pushed = tuple(o.offer_id for o in ranked), now
        update = OffersUpdated(card.alert_id, tuple(ranked))
        self.ports.updates(Change(Live(offers=update.offers), alert_id=card.alert_id))
        self.publish(update)
        self.updates_sent += 1

    def _score(self, customer: Customer, event: MirrorEvent, zone: str) -> list[ScoredOffer]:
        now = time.time()
        personal, taste = self.learned.personalised(customer, now)
        session = self.advisor.session(event.device_id, event.session_id)
        tried = tuple(session.try_ons) if session else ()
        also = tuple(s for sku in tried for s, _, _ in self.learned.also_liked(sku, now, frozenset(tried)))
        local = datetime.fromtimestamp(event.ts)
        context = Context(
            zone=zone, hour=local.hour, weekday=local.weekday(), try_ons=tried,
            likes=tuple(session.likes) if session else (), dislikes=tuple(session.dislikes) if session else (),
            affinities=taste.affinities, owned=tuple(s for s, _, _ in self.learned.owned(customer, now)),
            also_liked=also,
        )  # fmt: skip
        advice = self.advice(event.device_id, event.session_id)

        def rerank(ranked: list[ScoredOffer]) -> list[ScoredOffer]:
            return advised(keep_away(ranked, self.catalog, taste), self.catalog, advice, context.dislikes)

        return self.policy.rank(personal, self.catalog, context, now, rerank=rerank)
