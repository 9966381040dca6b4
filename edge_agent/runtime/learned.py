"""What the store has learned about a customer, read for one decision (taste, hints, also-liked)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from ..config.agent import LearningConfig
from ..core.cache import Bounded
from ..core.events import Customer, Hint, Product, ScoredOffer
from ..learning.hints import owns_hints, visit_hints
from ..learning.profile import DISLIKED_PENALTY, Taste, blend
from ..scoring.catalog import OfferCatalog
from ..store.profiles import Owned, Profiles

YEAR_S = 365 * 86400
ALSO_LIKED_TTL_S = 5.0


class Products(Mapping[str, Product]):
    """sku → its title and category, read from the products table as asked for, behind a bounded
    cache (unknown SKUs too): a chain's catalog of a hundred thousand SKUs costs disk, not memory."""

    def __init__(self, profiles: Profiles, size: int = 4096) -> None:
        self._profiles = profiles
        self._cache: Bounded[str, Product | None] = Bounded(size)  # unknown SKUs too

    def __getitem__(self, sku: str) -> Product:
        if sku in self._cache:
            found = self._cache.get(sku)
        else:
            found = self._cache[sku] = self._profiles.product(sku)
        if found is None:
            raise KeyError(sku)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles.product_skus())

    def __len__(self) -> int:
        return self._profiles.product_count()

    def title(self, sku: str) -> str:
        """What staff and shoppers read for a SKU: its title, else the SKU itself."""
        found = self.get(sku)
        return found.title if found is not None and found.title else sku

    def category(self, sku: str) -> str:
        """The SKU's category ("" when the catalog has none or does not know it)."""
        found = self.get(sku)
        return found.category if found is not None else ""

    def clear(self) -> None:
        self._cache.clear()

    @property
    def cached(self) -> int:
        """SKUs held in memory now (never more than the cache's size)."""
        return len(self._cache)


class Learned:
    """Reads the learned profile; the writes are effects of the inputs that taught it."""

    def __init__(self, profiles: Profiles, config: LearningConfig) -> None:
        self._profiles = profiles
        self._config = config
        self._products = Products(profiles)
        # Pairs change slowly; a burst of try-ons must not query the table once per event.
        self._also: Bounded[str, tuple[float, list[tuple[str, str, int]]]] = Bounded(2000)

    def reload(self) -> None:
        """Pick up a changed product catalog."""
        self._products.clear()

    def taste(self, customer: Customer, now: float) -> Taste:
        found = self._profiles.affinities(customer.customer_id, now, self._config.half_life_s)
        return blend(customer.preferred_categories, found)

    def personalised(self, customer: Customer, now: float) -> tuple[Customer, Taste]:
        """The customer as scoring should see them: learned likes first, disliked categories dropped."""
        taste = self.taste(customer, now)
        return replace(customer, preferred_categories=taste.preferred), taste

    def owned(self, customer: Customer, now: float) -> Owned:
        """(sku, title, bought_at) of what the customer bought within the last year."""
        return self._profiles.owned(customer.customer_id, now - YEAR_S)

    def hints(
        self, customer: Customer, shown: Sequence[ScoredOffer], catalog: OfferCatalog, owned: Owned, now: float
    ) -> list[Hint]:
        days = self._profiles.visit_days(customer.customer_id)
        by_id = catalog.get(s.offer_id for s in shown)
        pairs = [(s.title, by_id[s.offer_id].skus) for s in shown if s.offer_id in by_id]
        return [*visit_hints(days, int(now // 86400), customer.visits_90d), *owns_hints(owned, pairs, now)]

    def invalidate(self, skus: Sequence[str]) -> None:
        """New pairs with these SKUs were committed: read them afresh next time."""
        for sku in skus:
            self._also.pop(sku)

    def also_liked(
        self, sku: str, now: float, exclude: frozenset[str], avoid: frozenset[str] = frozenset()
    ) -> list[tuple[str, str, int]]:
        """Up to five SKUs often liked with `sku`: none in `exclude`, none of a category in `avoid`."""
        cached = self._also.get(sku)
        if cached is None or now - cached[0] > ALSO_LIKED_TTL_S:
            found = self._profiles.also_liked([sku], now, self._config.half_life_s, self._config.min_support, 10)
            cached = self._also[sku] = (now, found)
        kept = [(s, title, n) for s, title, n in cached[1] if s not in exclude]
        if avoid:
            kept = [(s, title, n) for s, title, n in kept if self._products.get(s, ("", ""))[1] not in avoid]
        return kept[:5]

    def categories(self) -> Products:
        """sku → its title and category."""
        return self._products


def keep_away(scored: list[ScoredOffer], catalog: OfferCatalog, taste: Taste) -> list[ScoredOffer]:
    """Offers in a category the customer showed they dislike sink (scores scaled down), then re-rank."""
    if not taste.disliked:
        return scored
    category = {oid: o.category for oid, o in catalog.get(s.offer_id for s in scored).items()}
    adjusted = [
        replace(s, score=s.score * DISLIKED_PENALTY) if category.get(s.offer_id) in taste.disliked else s
        for s in scored
    ]
    return sorted(adjusted, key=lambda s: -s.score)
