"""What the store learned about products and consenting customers, as the decisions ask for it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

from . import outcomes

Owned = list[tuple[str, str, float]]  # (sku, title, bought_at)
AlsoLiked = list[tuple[str, str, int]]  # (sku, title, support)


class Profiles(Protocol):
    def product(self, sku: str) -> tuple[str, str] | None:
        """(title, category) of a SKU, or None for one the catalog does not know."""
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

    def product(self, sku: str) -> tuple[str, str] | None:
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
