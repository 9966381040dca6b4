"""An offer catalog from a list, for tests and benchmarks that score without a store on disk: the
same `OfferCatalog` the agent queries, over an in-memory SQLite database with the real schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..core.events import Offer
from ..scoring.catalog import OfferCatalog
from ..store import migrate
from ..store.catalog import transaction, upsert_offer
from ..store.offers import SqliteOffers


def catalog_of(offers: Iterable[Offer], cache_size: int = 1024) -> OfferCatalog:
    """The offers in this order (their catalog order), queryable as the running agent queries them."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    migrate(conn)
    with transaction(conn):
        for o in offers:
            row = (o.offer_id, o.title, o.category, o.kind, o.min_tier, o.in_stock, list(o.skus), o.value)
            upsert_offer(conn, (*row, o.starts, o.ends))
    return OfferCatalog(SqliteOffers(conn), cache_size)
