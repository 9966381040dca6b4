"""The offers a decision scores, read from the store's catalog when it is made.

Scoring is one batched ONNX run, but features are built per offer: ten thousand eligible offers
cost ~150 ms per decision on a small box, beyond the alert budget, and held in memory they cost
~0.7 KB each. So, like any recommender, the agent retrieves candidates and then ranks them, and
the catalog stays in SQLite: a decision reads the offers that touch what is known about this
customer and this moment (what they tried, liked or own, what is often liked with it), then their
preferred and learned categories, then an even spread over the rest of the catalog, so the model
can still surprise. At most `LIMIT` offers are read and scored; a catalog that small is scored
whole. What the agent holds is a bounded cache of offers looked up by id (cards, hints).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..core.cache import Bounded
from ..core.events import Customer, Offer
from ..store.offers import OfferFilter, Offers, Query
from .rules import TIERS, Context, tier_rank

LIMIT = 256
TERMS = 256  # SKUs and categories a shortlist query names at most


class OfferCatalog:
    """The store's offers, asked of an `Offers` table (in the agent: the reader's committed catalog)."""

    def __init__(self, table: Offers, cache_size: int = 1024) -> None:
        self._table = table
        self._cache: Bounded[str, Offer] = Bounded(cache_size)
        self._has_kind: dict[str, bool] = {}

    def reload(self) -> None:
        """The catalog changed (an import, the cloud's offers): forget what was cached."""
        self._cache.clear()
        self._has_kind.clear()

    def candidates(
        self,
        customer: Customer,
        today: date,
        context: Context,
        *,
        kind: str | None = None,
        avoid_skus: Iterable[str] = (),
        avoid_categories: Iterable[str] = (),
        limit: int = LIMIT,
    ) -> list[Offer]:
        """The eligible offers to score (see the module docstring), at most `limit`."""
        rank = tier_rank(customer.tier)
        offers = OfferFilter(
            TIERS[rank + 1 :], today.isoformat(), kind, tuple(sorted(avoid_skus)), tuple(sorted(avoid_categories))
        )
        eligible = Query(offers)
        head = self._table.first(eligible, limit + 1)
        if len(head) <= limit:
            return head
        # The moment's SKUs first, then the newest owned; a customer who bought thousands of SKUs
        # must not push a query past SQLite's limit on parameters.
        skus = list(dict.fromkeys((*context.try_ons, *context.likes, *context.also_liked, *context.owned)))[:TERMS]
        liked = (c for c, a in context.affinities if a > 0)
        categories = list(dict.fromkeys((*customer.preferred_categories, *liked)))[:TERMS]
        narrowed = [Query(offers, skus=tuple(skus))] if skus else []
        if categories:
            narrowed.append(Query(offers, categories=tuple(categories)))
        picked: dict[str, Offer] = {}
        for where in narrowed:
            for offer in self._table.spread(where, limit - len(picked)):
                picked.setdefault(offer.offer_id, offer)
        rest = self._table.spread(eligible, limit - len(picked))
        for offer in (*rest, *head):  # the head fills in for spread marks that landed on picked offers
            if len(picked) >= limit:
                break
            picked.setdefault(offer.offer_id, offer)
        return list(picked.values())

    def get(self, offer_ids: Iterable[str]) -> dict[str, Offer]:
        """The offers with these ids (unknown ids left out), through the bounded cache."""
        wanted = list(dict.fromkeys(offer_ids))
        found = {oid: offer for oid in wanted if (offer := self._cache.get(oid)) is not None}
        for offer in self._table.by_ids([oid for oid in wanted if oid not in found]):
            found[offer.offer_id] = self._cache[offer.offer_id] = offer
        return found

    def has(self, kind: str) -> bool:
        """Whether any offer is of this kind (e.g. accessories for the mirrors)."""
        if kind not in self._has_kind:
            self._has_kind[kind] = self._table.any_of_kind(kind)
        return self._has_kind[kind]

    def __len__(self) -> int:
        return self._table.count()

    @property
    def cached(self) -> int:
        """Offers held in memory now (never more than the cache's size)."""
        return len(self._cache)
