"""A decision reads the offers it scores from the catalog in SQLite: the whole eligible catalog when
it is small; with a chain's catalog, a bounded shortlist — what touches this customer and this
moment first, then an even spread over the rest. Nothing of the catalog is held whole in memory."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.core.events import Customer, Offer
from edge_agent.scoring.catalog import LIMIT, TERMS, OfferCatalog
from edge_agent.scoring.rules import TIERS, Context, eligible
from edge_agent.store import connect, migrate
from edge_agent.store import offers as table
from edge_agent.store.catalog import upsert_offer
from edge_agent.store.offers import MemoryOffers, SqliteOffers
from edge_agent.store.schema import MIGRATIONS
from edge_agent.testing.catalog import catalog_of

CATS = ("shoes", "bags", "outerwear", "beauty")
ADA = Customer("c-ada", "Ada", "gold", True, ("shoes",))
TODAY = date(2026, 12, 3)
AT_THE_DOOR = Context("entrance", 10, 1)


def offers(n: int) -> list[Offer]:
    return [Offer(f"o-{i}", f"Offer {i}", CATS[i % 4], "discount", skus=(f"SKU-{i}",)) for i in range(n)]


def test_a_small_catalog_is_scored_whole_in_catalog_order() -> None:
    catalog = offers(LIMIT)
    assert catalog_of(catalog).candidates(ADA, TODAY, AT_THE_DOOR) == catalog


def test_a_large_catalog_keeps_what_touches_the_customer_and_the_moment() -> None:
    catalog = offers(10_000)
    store = catalog_of(catalog)
    context = Context("fitting-rooms", 10, 1, try_ons=("SKU-1",), affinities=(("beauty", 2.0), ("bags", -1.0)))
    picked = store.candidates(ADA, TODAY, context)
    assert len(picked) == LIMIT and len({o.offer_id for o in picked}) == LIMIT
    assert picked[0] == catalog[1]  # the bag she is trying on comes first
    assert {o.category for o in picked[1:]} == {"shoes", "beauty"}  # preferred and learned fill the rest
    assert store.candidates(ADA, TODAY, context) == picked  # the same customer, the same choice


def test_the_rest_of_the_catalog_still_gets_a_chance_spread_over_all_of_it() -> None:
    catalog = offers(300) + [Offer(f"x-{i}", "Other", "kids", "event") for i in range(5000)]
    picked = catalog_of(catalog).candidates(ADA, TODAY, AT_THE_DOOR)
    shoes = [o for o in catalog if o.category == "shoes"]
    assert set(shoes) <= set(picked)  # 75 shoe offers, all kept
    kids = [int(o.offer_id[2:]) for o in picked if o.category == "kids"]
    assert len(picked) == LIMIT and len(kids) > LIMIT / 2  # the rest is mostly kids, as the catalog is
    assert min(kids) < 500 and max(kids) > 4500  # from the whole catalog, not its first page


def test_a_customer_who_owns_thousands_of_skus_is_still_served_the_newest_first() -> None:
    catalog = offers(1000)
    owned = tuple(f"SKU-{i}" for i in range(999, -1, -1)) + tuple(f"gone-{i}" for i in range(40_000))
    picked = catalog_of(catalog).candidates(ADA, TODAY, Context("entrance", 10, 1, owned=owned))
    assert picked == catalog[1000 - TERMS :]  # the newest purchases' offers, and no SQL error


def test_only_eligible_offers_are_read_however_large_the_catalog() -> None:
    catalog = [
        Offer(f"o-{i}", "t", CATS[i % 4], "discount", min_tier=TIERS[i % 4], in_stock=i % 5 != 0, skus=(f"S{i}",))
        for i in range(3000)
    ]
    who = Customer("c-1", "Ada", "silver", True, ("bags",))
    picked = catalog_of(catalog).candidates(who, TODAY, Context("entrance", 10, 1, try_ons=("S1", "S3")))
    assert len(picked) == LIMIT
    assert all(eligible(who, o, TODAY) for o in picked)
    assert catalog[1] in picked and catalog[3] not in picked  # S3's offer is gold: above a silver customer


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["accessory", "discount"]),
            st.sampled_from(CATS),
            st.sets(st.sampled_from(["A", "B", "C", "D"]), max_size=2),
        ),
        max_size=30,
    ),
    st.sets(st.sampled_from(["A", "B", "C", "D"])),
    st.sets(st.sampled_from(CATS)),
)
def test_a_mirror_reads_exactly_the_accessories_without_what_the_session_turned_down(
    rows: list[tuple[str, str, set[str]]], avoid_skus: set[str], avoid_categories: set[str]
) -> None:
    catalog = [Offer(f"o-{n}", "t", cat, kind, skus=tuple(sorted(skus))) for n, (kind, cat, skus) in enumerate(rows)]
    found = catalog_of(catalog).candidates(
        ADA, TODAY, AT_THE_DOOR, kind="accessory", avoid_skus=avoid_skus, avoid_categories=avoid_categories
    )
    assert found == [
        o
        for o in catalog
        if o.kind == "accessory" and avoid_skus.isdisjoint(o.skus) and o.category not in avoid_categories
    ]


def test_which_offers_touch_a_sku_follows_every_write_of_the_catalog(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    filter_ = table.OfferFilter((), TODAY.isoformat())

    def touching(sku: str) -> list[str]:
        return [row[0] for row in table.spread(conn, filter_.where(skus=[sku]), 10)]

    upsert_offer(conn, ("o-1", "Scarf", "accessories", "accessory", "bronze", True, ["A", "B"], "", None, None))
    assert touching("A") == touching("B") == ["o-1"]
    upsert_offer(conn, ("o-1", "Scarf", "accessories", "accessory", "bronze", True, ["C"], "", None, None))  # replaced
    assert touching("A") == [] and touching("C") == ["o-1"]
    conn.execute("UPDATE offers SET skus = '[\"D\"]' WHERE offer_id = 'o-1'")
    assert touching("C") == [] and touching("D") == ["o-1"]
    conn.execute("DELETE FROM offers")
    assert touching("D") == [] and conn.execute("SELECT count(*) FROM offer_skus").fetchone()[0] == 0


def test_upgrading_indexes_the_skus_of_offers_already_imported(tmp_path: Path) -> None:
    version = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE offer_skus" in script)
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    for script in MIGRATIONS[:version]:  # the schema as the release before it left it
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO offers(offer_id, title, skus) VALUES ('o-1', 'Scarf', '[\"A\", \"B\"]')")
    migrate(conn)
    assert OfferCatalog(SqliteOffers(conn)).candidates(ADA, TODAY, AT_THE_DOOR)[0].skus == ("A", "B")
    assert sorted(conn.execute("SELECT sku, offer_id FROM offer_skus").fetchall()) == [("A", "o-1"), ("B", "o-1")]


def test_offers_looked_up_by_id_are_cached_within_a_bound() -> None:
    store = catalog_of(offers(5000), cache_size=100)
    found = store.get(f"o-{i}" for i in range(0, 5000, 2))
    assert len(found) == 2500 and found["o-42"].title == "Offer 42"
    assert store.cached == 100
    assert store.get(["o-4998", "nobody"]) == {"o-4998": found["o-4998"]}
    store.reload()
    assert store.cached == 0 and len(store) == 5000


def test_catalog_queries_seek_instead_of_scanning_the_catalog(tmp_path: Path) -> None:
    """What keeps a 200 000-offer import and a mirror's accessory query from walking every row."""
    conn = connect(tmp_path / "a.db")

    def plan(sql: str, params: list[object]) -> str:
        return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))

    assert "offer_skus_offer" in plan("DELETE FROM offer_skus WHERE offer_id = ?", ["o-1"])  # every offer written
    clause, params = table.OfferFilter((), TODAY.isoformat(), "accessory").where()
    assert "offers_kind (kind=? AND rowid>?)" in plan(
        f"SELECT rowid FROM offers WHERE rowid >= ? AND {clause} ORDER BY rowid LIMIT 1", [1, *params]
    )
    clause, params = table.OfferFilter((), TODAY.isoformat()).where(categories=["shoes"])
    assert "offers_category (category=? AND rowid>?)" in plan(
        f"SELECT rowid FROM offers WHERE rowid >= ? AND {clause} ORDER BY rowid LIMIT 1", [1, *params]
    )


DATES = st.one_of(st.none(), st.sampled_from(["", "2026-11-01", "2026-12-03", "2027-01-01"]))


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["accessory", "discount", "event"]),
            st.sampled_from(CATS),
            st.sets(st.sampled_from(["A", "B", "C", "D", "E"]), max_size=2),
            st.sampled_from(TIERS),
            st.booleans(),
            DATES,
            DATES,
        ),
        max_size=40,
    ),
    tier=st.sampled_from(TIERS),
    limit=st.integers(1, 12),
    try_ons=st.sets(st.sampled_from(["A", "B", "E", "Z"]), max_size=2),
    preferred=st.sets(st.sampled_from(CATS), max_size=2),
    kind=st.sampled_from([None, "accessory"]),
    avoid=st.sets(st.sampled_from(["A", "C"]), max_size=1),
)
def test_the_in_memory_catalog_answers_as_the_sqlite_one(
    rows: list[tuple[str, str, set[str], str, bool, str | None, str | None]],
    tier: str,
    limit: int,
    try_ons: set[str],
    preferred: set[str],
    kind: str | None,
    avoid: set[str],
) -> None:
    """Memory and SQLite agree on every decision: eligibility, narrowing, the even spread, lookups."""
    catalog = [
        Offer(f"o-{n}", "t", cat, k, min_tier=t, in_stock=stock, skus=tuple(sorted(skus)), starts=s, ends=e)
        for n, (k, cat, skus, t, stock, s, e) in enumerate(rows)
    ]
    who = Customer("c-1", "Ada", tier, True, tuple(sorted(preferred)))
    context = Context("fitting-rooms", 10, 1, try_ons=tuple(sorted(try_ons)))
    sqlite, memory = catalog_of(catalog), OfferCatalog(MemoryOffers(catalog))
    ask = {"kind": kind, "avoid_skus": avoid, "limit": limit}
    assert memory.candidates(who, TODAY, context, **ask) == sqlite.candidates(who, TODAY, context, **ask)
    ids = [o.offer_id for o in catalog[::3]] + ["o-missing"]
    assert memory.get(ids) == sqlite.get(ids)
    assert memory.has("accessory") == sqlite.has("accessory") and len(memory) == len(sqlite)
