"""What the store learned about products and consenting customers, as the decisions ask for it."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..core.events import Product
from ..learning.profile import forget, learn_at
from . import outcomes

Owned = list[tuple[str, str, float]]  # (sku, title, bought_at)
AlsoLiked = list[tuple[str, str, int]]  # (sku, title, support)


class Profiles(Protocol):
    def product(self, sku: str) -> Product | None:
        """Title and category of a SKU, or None for one the catalog does not know."""
        ...

    def product_skus(self) -> list[str]: ...

    def product_count(self) -> int: ...

    def affinities(self, customer_id: str, now: float, half_life_s: float) -> dict[str, float]:
        """The customer's learned category affinities as they stand at `now`."""
        ...

    def owned(self, customer_id: str, since: float) -> Owned: ...

    def visit_days(self, customer_id: str) -> list[int]: ...

    def also_liked(
        self, skus: Sequence[str], now: float, half_life_s: float, min_support: int, limit: int
    ) -> AlsoLiked: ...


class SqliteProfiles:
    """The learning tables, read on the agent's reader connection."""

    def __init__(self, reader: sqlite3.Connection) -> None:
        self._reader = reader

    def product(self, sku: str) -> Product | None:
        return outcomes.product_title(self._reader, sku)

    def product_skus(self) -> list[str]:
        return outcomes.product_skus(self._reader)

    def product_count(self) -> int:
        return outcomes.product_count(self._reader)

    def affinities(self, customer_id: str, now: float, half_life_s: float) -> dict[str, float]:
        return outcomes.affinities(self._reader, customer_id, now, half_life_s)

    def owned(self, customer_id: str, since: float) -> Owned:
        return outcomes.owned_items(self._reader, customer_id, since)

    def visit_days(self, customer_id: str) -> list[int]:
        return outcomes.visit_days(self._reader, customer_id)

    def also_liked(
        self, skus: Sequence[str], now: float, half_life_s: float, min_support: int, limit: int
    ) -> AlsoLiked:
        return outcomes.also_liked(self._reader, skus, now, half_life_s, min_support, limit)


class MemoryProfiles:
    """The same answers from dicts, for tests and the learning bench. Its writes do what the
    writer's effects do to the tables (`outcomes._learn`, `owned`, `entry`, `pair`), applied at once."""

    def __init__(self, products: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._products = {sku: Product(*known) for sku, known in (products or {}).items()}
        self._held: dict[str, tuple[dict[str, float], float]] = {}
        self._owned: dict[str, dict[str, float]] = defaultdict(dict)
        self._days: dict[str, set[int]] = defaultdict(set)
        self._pairs: dict[tuple[str, str, str], float] = {}  # (source, low, high) -> first ts

    def learn(self, customer_id: str, category: str, delta: float, ts: float, half_life_s: float) -> None:
        held, at = self._held.get(customer_id, ({}, None))
        self._held[customer_id] = learn_at(held, at, category, delta, ts, half_life_s)

    def own(self, customer_id: str, sku: str, ts: float) -> None:
        bought = self._owned[customer_id]
        bought[sku] = max(bought.get(sku, ts), ts)

    def visit(self, customer_id: str, ts: float) -> None:
        self._days[customer_id].add(int(ts // 86400))

    def pair(self, source: str, a: str, b: str, ts: float) -> None:
        low, high = sorted((a, b))
        self._pairs.setdefault((source, low, high), ts)  # counted once per source, as the table's key does

    def product(self, sku: str) -> Product | None:
        return self._products.get(sku)

    def product_skus(self) -> list[str]:
        return sorted(self._products)

    def product_count(self) -> int:
        return len(self._products)

    def affinities(self, customer_id: str, now: float, half_life_s: float) -> dict[str, float]:
        held, at = self._held.get(customer_id, ({}, None))
        return forget(held, now - at, half_life_s) if at is not None else dict(held)

    def owned(self, customer_id: str, since: float) -> Owned:
        bought = sorted(self._owned.get(customer_id, {}).items(), key=lambda item: -item[1])
        return [(sku, self._title(sku), at) for sku, at in bought if at >= since]

    def visit_days(self, customer_id: str) -> list[int]:
        return sorted(self._days.get(customer_id, ()))

    def also_liked(
        self, skus: Sequence[str], now: float, half_life_s: float, min_support: int, limit: int
    ) -> AlsoLiked:
        asked = set(skus)
        support: dict[str, int] = defaultdict(int)
        weight: dict[str, float] = defaultdict(float)
        for (_, a, b), ts in self._pairs.items():
            for mine, other in ((a, b), (b, a)):
                if mine in asked and other not in asked:
                    support[other] += 1
                    weight[other] += 0.5 ** (max(now - ts, 0) / half_life_s)
        strongest = sorted((o for o, n in support.items() if n >= min_support), key=lambda o: (-weight[o], o))
        return [(o, self._title(o), support[o]) for o in strongest[:limit]]

    def _title(self, sku: str) -> str:
        found = self._products.get(sku)
        return found.title if found is not None else sku
