"""Customers, their beacon identifiers and offers: what imports write and the CLI lists."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from . import suppression
from .rows import Write

CUSTOMER_COLUMNS = (
    "customer_id, display_name, tier, consent, rotating_key, preferred_categories, visits_90d, spend_90d, updated_at"
)
OFFER_KEYS = ("offer_id", "title", "category", "kind", "min_tier", "in_stock", "skus", "value", "starts", "ends")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def checkpoint(conn: sqlite3.Connection, pause_s: float = 0.15) -> None:
    """Inside `transaction`: commit what is done and go on in a new one after a pause long enough
    for a writer waiting on the lock to get in (SQLite's busy handler retries every 100 ms)."""
    conn.execute("COMMIT")
    time.sleep(pause_s)
    conn.execute("BEGIN IMMEDIATE")


def upsert_customer(conn: sqlite3.Connection, values: Sequence[Any]) -> None:
    """`values` in CUSTOMER_COLUMNS order; an existing customer is updated, their identifiers replaced later."""
    conn.execute(
        f"INSERT INTO customers({CUSTOMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(customer_id) DO UPDATE SET display_name=excluded.display_name, tier=excluded.tier, "
        "consent=excluded.consent, rotating_key=excluded.rotating_key, "
        "preferred_categories=excluded.preferred_categories, visits_90d=excluded.visits_90d, "
        "spend_90d=excluded.spend_90d, updated_at=excluded.updated_at",
        tuple(values),
    )
    conn.execute("DELETE FROM customer_identifiers WHERE customer_id = ?", (values[0],))


def identifier_owner(conn: sqlite3.Connection, kind: str, value: str) -> str | None:
    row = conn.execute("SELECT customer_id FROM customer_identifiers WHERE kind = ? AND value = ?", (kind, value))
    found = row.fetchone()
    return None if found is None else str(found[0])


def add_identifier(conn: sqlite3.Connection, kind: str, value: str, customer_id: str) -> None:
    conn.execute(
        "INSERT INTO customer_identifiers(kind, value, customer_id) VALUES (?, ?, ?)", (kind, value, customer_id)
    )


def offer_write(values: Sequence[Any]) -> Write:
    """The upsert of one offer; `values` in OFFER_KEYS order (skus as a list)."""
    row = list(values)
    row[6] = json.dumps(row[6])
    return Write(f"INSERT OR REPLACE INTO offers({', '.join(OFFER_KEYS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)


def upsert_offer(conn: sqlite3.Connection, values: Sequence[Any]) -> None:
    """`values` in OFFER_KEYS order (skus as a list)."""
    write = offer_write(values)
    conn.execute(write.sql, write.params)


PRODUCT_KEYS = ("sku", "title", "category", "price", "accessory_of")


def upsert_product(conn: sqlite3.Connection, values: Sequence[Any]) -> None:
    """`values` in PRODUCT_KEYS order (accessory_of as a list)."""
    sku, title, category, price, accessory_of = values
    conn.execute(
        "INSERT OR REPLACE INTO products(sku, title, category, price, accessory_of) VALUES (?, ?, ?, ?, ?)",
        (sku, title, category, price, json.dumps(list(accessory_of))),
    )


def products(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(PRODUCT_KEYS)} FROM products ORDER BY sku").fetchall()
    return [dict(zip(PRODUCT_KEYS, r, strict=True)) | {"accessory_of": json.loads(r[4])} for r in rows]


def customers_summary(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT c.customer_id, c.display_name, c.tier, c.consent, c.visits_90d, "
        "(SELECT COUNT(*) FROM customer_identifiers i WHERE i.customer_id = c.customer_id) "
        "FROM customers c ORDER BY c.customer_id"
    ).fetchall()
    keys = ("customer_id", "display_name", "tier", "consent", "visits_90d", "identifiers")
    return [dict(zip(keys, r, strict=True)) | {"consent": bool(r[3])} for r in rows]


def customer(conn: sqlite3.Connection, customer_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
    if row is None:
        return None
    keys = [k.strip() for k in CUSTOMER_COLUMNS.split(",")]
    data = dict(zip(keys, row, strict=True))
    data["consent"] = bool(data["consent"])
    data["preferred_categories"] = json.loads(data["preferred_categories"])
    return data


def offers(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(OFFER_KEYS)} FROM offers ORDER BY offer_id").fetchall()
    return [dict(zip(OFFER_KEYS, r, strict=True)) | {"in_stock": bool(r[5]), "skus": json.loads(r[6])} for r in rows]


PERSONAL_TABLES = (
    "alerts", "visits", "events", "customer_identifiers", "affinities", "owned", "visit_days", "sales",
    "social_friends", "social_looks",
)  # fmt: skip


def forget(conn: sqlite3.Connection, customer_id: str) -> dict[str, int]:
    """Erase a customer and every row that names them, so that a scan of the files finds nothing.

    `secure_delete` overwrites the freed pages, and a truncating WAL checkpoint moves the change
    into the database file and empties the WAL, where the old pages would otherwise linger.
    """
    counts: dict[str, int] = {}
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        for table in PERSONAL_TABLES:
            counts[table] = conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (customer_id,)).rowcount
        # A rejected payload that named them (e.g. a mirror's customer_ref) goes too.
        counts["dead_letters"] = conn.execute(
            "DELETE FROM dead_letters WHERE instr(sample, ?) > 0", (customer_id.encode(),)
        ).rowcount
        counts["customers"] = conn.execute("DELETE FROM customers WHERE customer_id = ?", (customer_id,)).rowcount
        if counts["customers"]:
            suppression.suppress(conn, customer_id, "forgotten")  # a later import must not bring them back
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return counts


def change_consent(conn: sqlite3.Connection, customer_id: str, consent: bool) -> None:
    """The CLI's consent change: the same operation as a signed consent token, then the WAL emptied."""
    from .outcomes import SetConsent

    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        SetConsent(customer_id, consent).apply(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def lift_suppression(conn: sqlite3.Connection, customer_id: str) -> bool:
    """`customer consent ID --give` for someone the box forgot: a later import may re-create them."""
    with transaction(conn):
        return suppression.lift(conn, customer_id)
