"""The rule-based scorer: the documented fallback when no model can be used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ..core.events import Customer, Offer, ScoredOffer
from ..learning.profile import relative

TIERS = ("bronze", "silver", "gold", "platinum")


@dataclass(frozen=True, slots=True)
class Context:
    """What the scorer may know about the moment besides customer and offer."""

    zone: str
    hour: int
    weekday: int
    dwell_s: float = 0.0
    try_ons: tuple[str, ...] = ()
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()
    temperature_c: float | None = None
    # What the store has learned about this customer (docs/interface.md): affinity per category (as of now),
    # SKUs they bought, and SKUs often liked with what they tried in this visit.
    affinities: tuple[tuple[str, float], ...] = ()
    owned: tuple[str, ...] = ()
    also_liked: tuple[str, ...] = ()

    def affinity(self, category: str) -> float:
        return next((a for c, a in self.affinities if c == category), 0.0)

    def relative_affinity(self, category: str) -> float:
        """How this category compares with the customer's strongest learned one (−1..1)."""
        return relative(self.affinities, category)


class Scorer(Protocol):
    """Scores all of a customer's eligible offers in one call."""

    def score(self, customer: Customer, offers: Sequence[Offer], context: Context) -> list[ScoredOffer]: ...


def tier_rank(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else 0


def eligible(customer: Customer, offer: Offer, today: date | None = None) -> bool:
    """In stock, the customer's tier at least the offer's, and today within its dates."""
    if not offer.in_stock or tier_rank(customer.tier) < tier_rank(offer.min_tier):
        return False
    day = (today or date.today()).isoformat()
    return not ((offer.starts and day < offer.starts) or (offer.ends and day > offer.ends))


class RuleScorer:
    """Preferred category first, then tier and recent activity; each score says why."""

    def score(self, customer: Customer, offers: Sequence[Offer], context: Context) -> list[ScoredOffer]:
        out = []
        for offer in offers:
            score = 0.2 + 0.1 * tier_rank(customer.tier)
            reasons = [f"{customer.tier} tier"]
            if offer.category in customer.preferred_categories:
                score += 0.4
                reasons.insert(0, f"likes {offer.category}")
            if set(offer.skus) & (set(context.try_ons) | set(context.likes)):
                score += 0.2
                reasons.insert(0, "matches what they tried on")
            learned = context.relative_affinity(offer.category)
            if learned:
                score += 0.25 * learned
                reasons.insert(0, f"{'showed they like' if learned > 0 else 'turned down'} {offer.category}")
            if set(offer.skus) & set(context.also_liked):
                score += 0.15
                reasons.insert(0, "often liked with what they tried")
            if set(offer.skus) & set(context.owned):
                score += 0.05 if offer.kind == "accessory" else -0.15
                reasons.append("owns it")
            if customer.visits_90d >= 5:
                score += 0.05
                reasons.append("frequent visitor")
            out.append(ScoredOffer(offer.offer_id, offer.title, min(max(score, 0.01), 0.99), ", ".join(reasons)))
        out.sort(key=lambda s: (-s.score, s.offer_id))
        return out
