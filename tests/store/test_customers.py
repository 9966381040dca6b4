"""Customers: the SQLite tables and the in-memory stand-in give the presence layer the same answers,
and neither ever returns someone who did not consent."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.core.events import Customer
from edge_agent.store import connect
from edge_agent.store.customers import Customers, MemoryCustomers, SqliteCustomers

NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
HEX = st.text("0123456789abcdef", min_size=1, max_size=4)
PEOPLE = st.lists(
    st.tuples(
        st.booleans(),  # consent
        st.lists(st.tuples(st.sampled_from(["ibeacon", "eddystone_uid"]), HEX), max_size=2),  # beacon identifiers
        st.one_of(st.none(), st.text("0123456789abcdef", min_size=32, max_size=32)),  # rotating key
        st.lists(st.sampled_from(["shoes", "outerwear", "bags"]), max_size=2, unique=True),
        NAMES,
    ),
    max_size=12,
)


def both(people: list[tuple[bool, list[tuple[str, str]], str | None, list[str], str]], db: Path) -> list[Customers]:
    conn = connect(db)
    crm = []
    seen: set[tuple[str, str]] = set()
    for i, (consent, identifiers, key, categories, name) in enumerate(people):
        customer = Customer(f"c-{i}", name, "gold", consent, tuple(categories), i, float(i))
        fresh = list(dict.fromkeys(i for i in identifiers if i not in seen))  # an identifier is one customer's
        seen.update(fresh)
        crm.append((customer, fresh, key))
        conn.execute(
            "INSERT INTO customers(customer_id, display_name, tier, consent, rotating_key, preferred_categories,"
            " visits_90d, spend_90d, updated_at) VALUES (?, ?, 'gold', ?, ?, ?, ?, ?, 0)",
            (customer.customer_id, name, int(consent), key, json.dumps(categories), i, float(i)),
        )
        for kind, value in fresh:
            conn.execute("INSERT INTO customer_identifiers(kind, value, customer_id) VALUES (?, ?, ?)",
                         (kind, value, customer.customer_id))  # fmt: skip
    return [SqliteCustomers(conn), MemoryCustomers(crm)]


@settings(max_examples=60, deadline=None)
@given(people=PEOPLE)
def test_sqlite_and_memory_answer_alike_and_only_with_consent(people: list) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite, memory = both(people, Path(tmp) / "crm.db")
        asked = [f"c-{i}" for i in range(len(people) + 2)]
        assert [sqlite.by_id(c) for c in asked] == [memory.by_id(c) for c in asked]
        beacons = {ident for _, identifiers, *_ in people for ident in identifiers} | {("ibeacon", "nobody")}
        for kind, value in sorted(beacons):
            assert sqlite.by_beacon(kind, value) == memory.by_beacon(kind, value)
        assert list(sqlite.rotating_keys()) == list(memory.rotating_keys())
        for row in range(len(people) + 2):
            assert sqlite.by_row(row) == memory.by_row(row)
        found = [c for c in (memory.by_id(x) for x in asked) if c is not None]
        assert all(c.consent for c in found)
        assert len(found) == sum(consent for consent, *_ in people)
