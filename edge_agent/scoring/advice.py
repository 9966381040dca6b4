"""Friends' advice in the ranking (SPEC §16): it moves the session's preferences at half the weight
of the shopper's own like, and never past the shopper's own dislike."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from ..core.events import ScoredOffer
from .catalog import OfferCatalog

LIKE_WEIGHT = 0.2  # what the shopper's own like adds to a matching offer (scoring/rules.py)
ADVICE_SHARE = 0.5


def advised(
    scored: list[ScoredOffer],
    catalog: OfferCatalog,
    advice: Mapping[str, float],
    disliked: Collection[str] = (),
) -> list[ScoredOffer]:
    """Offers touching an advised SKU move by ½ × like × A (A in −1..1); a SKU the shopper
    disliked is out of the friends' reach."""
    heard = {sku: a for sku, a in advice.items() if a and sku not in disliked}
    if not heard or not scored:
        return scored
    offers = catalog.get(s.offer_id for s in scored)
    out = []
    for s in scored:
        skus = offers[s.offer_id].skus if s.offer_id in offers else ()
        moves = [heard[sku] for sku in skus if sku in heard]
        if not moves:
            out.append(s)
            continue
        a = max(moves, key=abs)
        why = "friends advise it" if a > 0 else "friends advise against it"
        score = min(max(s.score + LIKE_WEIGHT * ADVICE_SHARE * a, 0.01), 0.99)
        out.append(replace(s, score=score, reason=f"{why}, {s.reason}" if s.reason else why))
    return sorted(out, key=lambda s: (-s.score, s.offer_id))
