"""Learned profiles: what the writer's effects leave in SQLite and what the in-memory twin holds
give the decisions the same answers — affinities as forgotten by the half-life, what a customer
owns, their visit days, and also-liked pairs weighted by how recent they are."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.store import Database, connect, outcomes
from edge_agent.store.catalog import upsert_customer, upsert_product
from edge_agent.store.profiles import MemoryProfiles, Profiles, SqliteProfiles

HALF_LIFE = 1000.0
NOW = 100_000.0
SKUS = ["s1", "s2", "s3", "s4", "s5", "s6"]
CUSTOMERS = ["c-a", "c-b", "c-c"]
PRODUCTS = st.dictionaries(
    st.sampled_from(SKUS), st.tuples(st.sampled_from(["", "Boot", "Bag"]), st.sampled_from(["", "shoes", "bags"]))
)
# Times a whole number of half-lives from now (some in the future): every pair's weight is a power
# of two, so the two sides' sums are exact and equal weights tie exactly, in whatever order summed.
WHEN = st.integers(-2, 6).map(lambda k: NOW - k * HALF_LIFE)
LESSONS = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(SKUS), st.sampled_from([2.0, 1.0, -1.0, 0.5]), WHEN)
)
OWNED = st.lists(st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(SKUS), WHEN))
PAIRS = st.lists(st.tuples(st.sampled_from(["mirror:1", "mirror:2", "sale:1"]), *[st.sampled_from(SKUS)] * 2, WHEN))


def run(conn: Database, *writes: outcomes.Write) -> None:
    for w in writes:
        conn.execute(w.sql, w.params)


def both(products, lessons, owned, pairs, db: Path) -> tuple[Profiles, Profiles]:  # type: ignore[no-untyped-def]
    conn = connect(db)
    memory = MemoryProfiles(products)
    for c in CUSTOMERS:
        upsert_customer(conn, (c, c, "", 1, None, "[]", 0, 0.0, 0.0))
    for sku, (title, category) in products.items():
        upsert_product(conn, (sku, title, category, None, []))
    for customer, sku, delta, ts in lessons:
        outcomes.LearnFromSku(customer, sku, delta, ts, HALF_LIFE).apply(conn)
        if sku in products and products[sku][1]:  # a SKU teaches only through its known category
            memory.learn(customer, products[sku][1], delta, ts, HALF_LIFE)
    for customer, sku, ts in owned:
        run(conn, outcomes.owned(customer, sku, ts), *outcomes.entry(customer, "entrance", ts, None, ()))
        memory.own(customer, sku, ts)
        memory.visit(customer, ts)
    for source, a, b, ts in pairs:
        run(conn, outcomes.pair(source, a, b, ts))
        memory.pair(source, a, b, ts)
    return SqliteProfiles(conn), memory


@settings(max_examples=80, deadline=None)
@given(products=PRODUCTS, lessons=LESSONS, owned=OWNED, pairs=PAIRS, support=st.integers(1, 3))
def test_sqlite_and_memory_profiles_answer_alike(products, lessons, owned, pairs, support) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite, memory = both(products, lessons, owned, pairs, Path(tmp) / "learned.db")
        for sku in [*SKUS, "unknown"]:
            assert sqlite.product(sku) == memory.product(sku)
        assert sqlite.product_skus() == memory.product_skus()
        assert sqlite.product_count() == memory.product_count()
        for customer in [*CUSTOMERS, "c-nobody"]:
            for later in (0.0, 3 * HALF_LIFE):
                assert sqlite.affinities(customer, NOW + later, HALF_LIFE) == memory.affinities(
                    customer, NOW + later, HALF_LIFE
                )
            mine, theirs = sqlite.owned(customer, NOW - 3 * HALF_LIFE), memory.owned(customer, NOW - 3 * HALF_LIFE)
            assert sorted(mine) == sorted(theirs)  # the same things, each newest first (ties in any order)
            assert [at for *_, at in mine] == sorted((at for *_, at in mine), reverse=True)
            assert sqlite.visit_days(customer) == memory.visit_days(customer)
        for asked in (["s1"], ["s1", "s2"], SKUS[2:], []):
            assert sqlite.also_liked(asked, NOW, HALF_LIFE, support, 3) == memory.also_liked(
                asked, NOW, HALF_LIFE, support, 3
            )


def test_an_old_pair_weighs_less_than_a_fresh_one_with_the_same_support() -> None:
    memory = MemoryProfiles({"boot": ("Boot", "shoes"), "bag": ("Bag", "bags"), "belt": ("Belt", "accessories")})
    memory.pair("sale:1", "boot", "bag", NOW - 5 * HALF_LIFE)
    memory.pair("sale:2", "boot", "belt", NOW)
    memory.pair("sale:2", "belt", "boot", NOW)  # the same source and pair again: counted once
    assert memory.also_liked(["boot"], NOW, HALF_LIFE, 1, 5) == [("belt", "Belt", 1), ("bag", "Bag", 1)]


def test_learning_forgets_towards_no_preference() -> None:
    memory = MemoryProfiles()
    memory.learn("c-a", "shoes", 2.0, NOW, HALF_LIFE)
    fresh = memory.affinities("c-a", NOW, HALF_LIFE)["shoes"]
    later = memory.affinities("c-a", NOW + 4 * HALF_LIFE, HALF_LIFE)["shoes"]
    assert fresh > later > 0
