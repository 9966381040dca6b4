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


Where = tuple[str, list[Any]]  # an `OfferFilter.where()`


class Offers(Protocol):
    """The offer catalog as a decision reads it: offers, never rows."""

    def first(self, where: Where, n: int) -> list[Offer]: ...

    def spread(self, where: Where, n: int) -> list[Offer]: ...

    def by_ids(self, offer_ids: Sequence[str]) -> list[Offer]: ...

    def any_of_kind(self, kind: str) -> bool: ...

    def count(self) -> int: ...


class SqliteOffers:
    """The catalog tables on one connection (the agent's reader: always the committed catalog)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def first(self, where: Where, n: int) -> list[Offer]:
        return [offer_of(row) for row in first(self._conn, where, n)]

    def spread(self, where: Where, n: int) -> list[Offer]:
        return [offer_of(row) for row in spread(self._conn, where, n)]

    def by_ids(self, offer_ids: Sequence[str]) -> list[Offer]:
        return [offer_of(row) for row in by_ids(self._conn, offer_ids)]

    def any_of_kind(self, kind: str) -> bool:
        return any_of_kind(self._conn, kind)

    def count(self) -> int:
        return count(self._conn)
