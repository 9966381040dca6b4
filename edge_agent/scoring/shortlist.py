"""Which offers the model scores, when a chain's catalog has thousands.

Scoring is one batched ONNX run, but features are built per offer: ten thousand eligible offers
cost ~150 ms per decision on a small box, beyond the alert budget. So, like any recommender,
the agent first retrieves candidates and then ranks them: the offers that touch what is known
about this customer and this moment (their preferred and learned categories, what they tried,
liked or own, what is often liked with it), then an even spread over the rest of the catalog, so
the model can still surprise. At most `LIMIT` offers are scored; a catalog that small is scored
whole, exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.events import Customer, Offer
from .rules import Context

LIMIT = 256


def shortlist(customer: Customer, offers: Sequence[Offer], context: Context, limit: int = LIMIT) -> list[Offer]:
    if len(offers) <= limit:
        return list(offers)
    skus = set(context.try_ons) | set(context.likes) | set(context.owned) | set(context.also_liked)
    categories = set(customer.preferred_categories) | {c for c, a in context.affinities if a > 0}
    tiers: tuple[list[Offer], list[Offer], list[Offer]] = ([], [], [])  # the moment, the customer, the rest
    for offer in offers:
        tier = 0 if skus and not skus.isdisjoint(offer.skus) else 1 if offer.category in categories else 2
        tiers[tier].append(offer)
    picked: list[Offer] = []
    for tier_offers in tiers:
        picked += _spread(tier_offers, limit - len(picked))
    return picked


def _spread(offers: Sequence[Offer], n: int) -> list[Offer]:
    """`n` offers evenly over `offers` (deterministic: the same customer sees the same choice)."""
    if n <= 0:
        return []
    if n >= len(offers):
        return list(offers)
    step = len(offers) / n
    return [offers[int(i * step)] for i in range(n)]
