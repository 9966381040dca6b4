"""The offer catalog read by query: a chain's ten thousand offers stay on disk; a decision reads the
few hundred it scores (scoring/catalog.py says which)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.events import Offer
from .catalog import OFFER_KEYS

COLUMNS = ", ".join(OFFER_KEYS)
OfferRow = tuple[Any, ...]  # OFFER_KEYS, in that order

# One query per evenly spaced rowid: the first matching offer at or after each. An index seek
# each, so a spread costs its size, not the catalog's.
_SPREAD = """
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?)
SELECT o.rowid, {columns} FROM k JOIN offers o ON o.rowid = (
    SELECT rowid FROM offers WHERE rowid >= ? + CAST(k.i * ? AS INTEGER) AND {where} ORDER BY rowid LIMIT 1
)
"""


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


@dataclass(frozen=True, slots=True)
class OfferFilter:
    """Which offers a decision may consider: in stock, not of a tier above the customer's, today
    within their dates; optionally of one kind, and none with an avoided SKU or category."""

    tiers_above: tuple[str, ...]
    day: str  # ISO date: compared as text, as the dates are stored
    kind: str | None = None
    avoid_skus: tuple[str, ...] = ()
    avoid_categories: tuple[str, ...] = ()

    def admits(self, offer: Offer, skus: Sequence[str] = (), categories: Sequence[str] = ()) -> bool:
        """`where()` in Python, offer by offer (the in-memory catalog; a test holds the two alike)."""
        return (
            offer.in_stock
            and offer.min_tier not in self.tiers_above
            and (not offer.starts or offer.starts <= self.day)
            and (not offer.ends or offer.ends >= self.day)
            and (self.kind is None or offer.kind == self.kind)
            and not set(offer.skus) & set(self.avoid_skus)
            and offer.category not in self.avoid_categories
            and (not skus or bool(set(offer.skus) & set(skus)))
            and (not categories or offer.category in categories)
        )

    def where(self, skus: Sequence[str] = (), categories: Sequence[str] = ()) -> tuple[str, list[Any]]:
        """The WHERE clause (and its parameters), narrowed to offers touching `skus` or in `categories`."""
        clauses = [
            "in_stock = 1",
            f"min_tier NOT IN ({_marks(self.tiers_above)})",
            "(coalesce(starts, '') = '' OR starts <= ?)",
            "(coalesce(ends, '') = '' OR ends >= ?)",
        ]
        params: list[Any] = [*self.tiers_above, self.day, self.day]
        if self.kind is not None:
            clauses.append("kind = ?")
            params.append(self.kind)
        if self.avoid_skus:
            clauses.append(
                f"offer_id NOT IN (SELECT offer_id FROM offer_skus WHERE sku IN ({_marks(self.avoid_skus)}))"
            )
            params += self.avoid_skus
        if self.avoid_categories:
            clauses.append(f"category NOT IN ({_marks(self.avoid_categories)})")
            params += self.avoid_categories
        if skus:
            clauses.append(f"offer_id IN (SELECT offer_id FROM offer_skus WHERE sku IN ({_marks(skus)}))")
            params += skus
        if categories:
            clauses.append(f"category IN ({_marks(categories)})")
            params += categories
        return " AND ".join(clauses), params


def first(conn: sqlite3.Connection, where: tuple[str, list[Any]], n: int) -> list[OfferRow]:
    """The first `n` matching offers in catalog order."""
    clause, params = where
    return conn.execute(f"SELECT {COLUMNS} FROM offers WHERE {clause} ORDER BY rowid LIMIT ?", [*params, n]).fetchall()


def spread(conn: sqlite3.Connection, where: tuple[str, list[Any]], n: int) -> list[OfferRow]:
    """Up to `n` matching offers: all of them if there are no more, else evenly over the catalog."""
    clause, params = where
    if n <= 0:
        return []
    head = conn.execute(
        f"SELECT rowid, {COLUMNS} FROM offers WHERE {clause} ORDER BY rowid LIMIT ?", [*params, n + 1]
    ).fetchall()
    if len(head) <= n:
        return [row[1:] for row in head]
    lo = head[0][0]
    hi = conn.execute(f"SELECT rowid FROM offers WHERE {clause} ORDER BY rowid DESC LIMIT 1", params).fetchone()[0]
    found = conn.execute(
        _SPREAD.format(columns=", ".join(f"o.{c}" for c in OFFER_KEYS), where=clause),
        [n, lo, (hi - lo + 1) / n, *params],
    ).fetchall()
    unique = {row[0]: row[1:] for row in found}  # two marks may land on the same offer
    return list(unique.values())


def by_ids(conn: sqlite3.Connection, offer_ids: Sequence[str]) -> list[OfferRow]:
    if not offer_ids:
        return []
    return conn.execute(f"SELECT {COLUMNS} FROM offers WHERE offer_id IN ({_marks(offer_ids)})", offer_ids).fetchall()


def any_of_kind(conn: sqlite3.Connection, kind: str) -> bool:
    return conn.execute("SELECT 1 FROM offers WHERE kind = ? LIMIT 1", (kind,)).fetchone() is not None


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM offers").fetchone()[0])


def offer_of(row: OfferRow) -> Offer:
    oid, title, category, kind, min_tier, stock, skus, value, starts, ends = row
    return Offer(oid, title, category, kind, min_tier, bool(stock), tuple(json.loads(skus)), value, starts, ends)


@dataclass(frozen=True, slots=True)
class Query:
    """The offers a filter admits, narrowed to those touching `skus` or in `categories`."""

    filter: OfferFilter
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


class Offers(Protocol):
    """The offer catalog as a decision reads it: offers, never rows, in catalog order."""

    def first(self, query: Query, n: int) -> list[Offer]:
        """The first `n` offers the query admits."""
        ...

    def spread(self, query: Query, n: int) -> list[Offer]:
        """Up to `n` admitted offers: all of them if there are no more, else evenly over the catalog."""
        ...

    def by_ids(self, offer_ids: Sequence[str]) -> list[Offer]: ...

    def any_of_kind(self, kind: str) -> bool: ...

    def count(self) -> int: ...


class SqliteOffers:
    """The catalog tables on one connection (the agent's reader: always the committed catalog)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def first(self, query: Query, n: int) -> list[Offer]:
        return [offer_of(row) for row in first(self._conn, query.filter.where(query.skus, query.categories), n)]

    def spread(self, query: Query, n: int) -> list[Offer]:
        return [offer_of(row) for row in spread(self._conn, query.filter.where(query.skus, query.categories), n)]

    def by_ids(self, offer_ids: Sequence[str]) -> list[Offer]:
        return [offer_of(row) for row in by_ids(self._conn, offer_ids)]

    def any_of_kind(self, kind: str) -> bool:
        return any_of_kind(self._conn, kind)

    def count(self) -> int:
        return count(self._conn)


class MemoryOffers:
    """The same answers from a list in catalog order, for tests and benchmarks."""

    def __init__(self, offers: Sequence[Offer]) -> None:
        self._offers = list(offers)

    def _admitted(self, query: Query) -> list[tuple[int, Offer]]:
        return [(i, o) for i, o in enumerate(self._offers, 1) if query.filter.admits(o, query.skus, query.categories)]

    def first(self, query: Query, n: int) -> list[Offer]:
        return [o for _, o in self._admitted(query)[:n]]

    def spread(self, query: Query, n: int) -> list[Offer]:
        if n <= 0:
            return []
        admitted = self._admitted(query)
        if len(admitted) <= n:
            return [o for _, o in admitted]
        lo, hi = admitted[0][0], admitted[-1][0]
        step = (hi - lo + 1) / n
        picked: dict[int, Offer] = {}
        for k in range(n):  # the first admitted offer at or after each evenly spaced mark
            mark = lo + int(k * step)
            row, offer = next((r, o) for r, o in admitted if r >= mark)
            picked.setdefault(row, offer)
        return list(picked.values())

    def by_ids(self, offer_ids: Sequence[str]) -> list[Offer]:
        wanted = set(offer_ids)
        return [o for o in self._offers if o.offer_id in wanted]

    def any_of_kind(self, kind: str) -> bool:
        return any(o.kind == kind for o in self._offers)

    def count(self) -> int:
        return len(self._offers)
