"""Outcomes and learning in SQL: entries, sales and their attribution, affinities, pairs, consent."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.events import Product
from ..learning.profile import forget, learn_at
from . import suppression
from .effects import add_counts
from .rows import Write

YEAR_S = 365 * 86400


def entry(customer_id: str, zone: str, ts: float, group: str | None, offers: Sequence[str]) -> tuple[Write, ...]:
    """A store entry of a known customer: the visit (with its decision group) and the day it happened on."""
    return (
        Write(
            "INSERT INTO visits(customer_id, zone, entered_at, entry, grp, offers) VALUES (?, ?, ?, 1, ?, ?)",
            (customer_id, zone, ts, group, json.dumps(list(offers))),
        ),
        Write("INSERT OR IGNORE INTO visit_days(customer_id, day) VALUES (?, ?)", (customer_id, int(ts // 86400))),
    )


@dataclass(frozen=True, slots=True)
class LearnFromSku:
    """Move the customer's affinity for the SKU's category (from the product catalog)."""

    customer_id: str
    sku: str
    delta: float
    ts: float
    half_life_s: float

    def apply(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT category FROM products WHERE sku = ? AND category != ''", (self.sku,)).fetchone()
        if row is not None:
            _learn(conn, self.customer_id, row[0], self.delta, self.ts, self.half_life_s)


@dataclass(frozen=True, slots=True)
class LearnFromStaff:
    """Staff accepted or dismissed an offer on an alert: the alert's customer, the offer's category."""

    alert_id: str
    offer_id: str | None
    delta: float
    ts: float
    half_life_s: float

    def apply(self, conn: sqlite3.Connection) -> None:
        row = conn.execute(
            "SELECT a.customer_id, o.category FROM alerts a JOIN offers o "
            "ON o.offer_id = COALESCE(?, json_extract(a.payload, '$.offers[0].offer_id')) "
            "WHERE a.alert_id = ? AND a.customer_id IS NOT NULL AND o.category != ''",
            (self.offer_id, self.alert_id),
        ).fetchone()
        if row is not None:
            _learn(conn, row[0], row[1], self.delta, self.ts, self.half_life_s)


def _learn(
    conn: sqlite3.Connection, customer_id: str, category: str, delta: float, ts: float, half_life_s: float
) -> None:
    """Forget up to `ts`, then add the signal; all of the customer's rows share one `updated_at`."""
    moved, when = learn_at(*_held(conn, customer_id), category, delta, ts, half_life_s)
    conn.executemany(
        "INSERT INTO affinities(customer_id, category, score, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(customer_id, category) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at",
        [(customer_id, c, score, when) for c, score in moved.items()],
    )


def _held(conn: sqlite3.Connection, customer_id: str) -> tuple[dict[str, float], float | None]:
    rows = conn.execute("SELECT category, score, updated_at FROM affinities WHERE customer_id = ?", (customer_id,))
    held: dict[str, float] = {}
    at: float | None = None
    for category, score, updated_at in rows:
        held[category] = float(score)
        at = updated_at if at is None else max(at, updated_at)
    return held, at


def pair(source: str, a: str, b: str, ts: float) -> Write:
    """Two SKUs seen together in one mirror session or one sale (counted once per source)."""
    low, high = sorted((a, b))
    return Write("INSERT OR IGNORE INTO cooccurrence(source, a, b, ts) VALUES (?, ?, ?, ?)", (source, low, high, ts))


def sale_row(
    sale_id: str, ts: float, device_id: str, customer_id: str | None, amount: float, lines: str, offers: str
) -> Write:
    """The sale itself; as a guard it de-duplicates by `sale_id`."""
    return Write(
        "INSERT OR IGNORE INTO sales(sale_id, ts, device_id, customer_id, amount, lines, offer_ids) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sale_id, ts, device_id, customer_id, amount, lines, offers),
    )


def owned(customer_id: str, sku: str, ts: float) -> Write:
    return Write(
        "INSERT INTO owned(customer_id, sku, bought_at) VALUES (?, ?, ?) "
        "ON CONFLICT(customer_id, sku) DO UPDATE SET bought_at = max(bought_at, excluded.bought_at)",
        (customer_id, sku, ts),
    )


@dataclass(frozen=True, slots=True)
class AttributeSale:
    """The sale belongs to the customer's latest decided visit within the window (or to nobody)."""

    sale_id: str
    customer_id: str | None
    ts: float
    window_s: float
    amount: float
    skus: tuple[str, ...]
    offer_ids: tuple[str, ...]
    bucket: float
    subject: str  # the sale as k-anonymity counts it (a keyed hash for this bucket)

    def apply(self, conn: sqlite3.Connection) -> None:
        visit = None
        if self.customer_id is not None:
            visit = conn.execute(
                "SELECT id, grp, offers, converted FROM visits WHERE customer_id = ? AND entry = 1 "
                "AND grp IS NOT NULL AND entered_at BETWEEN ? AND ? ORDER BY entered_at DESC LIMIT 1",
                (self.customer_id, self.ts - self.window_s, self.ts + 60),
            ).fetchone()
        group = visit[1] if visit else "unattributed"
        counts: list[tuple[str, dict[str, str], float]] = [("sales_amount", {"group": group}, self.amount)]
        if visit is not None:
            conn.execute("UPDATE sales SET visit_id = ?, grp = ? WHERE sale_id = ?", (visit[0], group, self.sale_id))
            if not visit[3]:
                conn.execute("UPDATE visits SET converted = 1 WHERE id = ?", (visit[0],))
                counts.append(("visits_converted", {"group": group}, 1))
            for offer_id in _redeemed(conn, json.loads(visit[2]), self.skus, self.offer_ids):
                counts.append(("offers_redeemed", {"offer_id": offer_id, "group": group}, 1))
        add_counts(conn, self.bucket, counts, self.subject)


def _redeemed(conn: sqlite3.Connection, shown: list[str], skus: Sequence[str], offer_ids: Sequence[str]) -> list[str]:
    """Offers shown on the visit that the sale redeemed: named at the till, or covering a sold SKU."""
    out = []
    for offer_id in shown:
        if offer_id in offer_ids:
            out.append(offer_id)
            continue
        row = conn.execute("SELECT skus FROM offers WHERE offer_id = ?", (offer_id,)).fetchone()
        if row and set(json.loads(row[0])) & set(skus):
            out.append(offer_id)
    return out


@dataclass(frozen=True, slots=True)
class SetConsent:
    """Give or withdraw consent; withdrawal erases the learned profile and the visit history at once."""

    customer_id: str
    consent: bool

    def apply(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE customers SET consent = ?, updated_at = ? WHERE customer_id = ?",
            (int(self.consent), time.time(), self.customer_id),
        )
        if self.consent:
            suppression.lift(conn, self.customer_id)
            return
        suppression.suppress(conn, self.customer_id, "withdrawn")
        for table in ("affinities", "owned", "visit_days", "visits", "alerts", "social_friends"):
            conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (self.customer_id,))
        conn.execute("UPDATE sales SET customer_id = NULL, visit_id = NULL WHERE customer_id = ?", (self.customer_id,))
        conn.execute("UPDATE events SET customer_id = NULL WHERE customer_id = ?", (self.customer_id,))


# --- reads ----------------------------------------------------------------------------------


def affinities(reader: sqlite3.Connection, customer_id: str, now: float, half_life_s: float) -> dict[str, float]:
    """The customer's category affinities as of `now` (forgotten by the half-life)."""
    held, at = _held(reader, customer_id)
    return forget(held, now - at, half_life_s) if at is not None else held


def mirror_lessons(reader: sqlite3.Connection, kinds: Sequence[str]) -> list[tuple[str, str, str, float]]:
    """(customer, event, category, ts) of every stored mirror event of the teaching `kinds` that
    taught a consenting customer, in the order they were committed (checking learned state after crashes)."""
    return reader.execute(
        "SELECT e.customer_id, json_extract(e.payload, '$.event'), p.category, e.ts FROM events e "
        "JOIN customers c ON c.customer_id = e.customer_id AND c.consent = 1 "
        "JOIN products p ON p.sku = json_extract(e.payload, '$.sku') AND p.category != '' "
        "WHERE e.kind = 'mirror' "
        f"AND json_extract(e.payload, '$.event') IN ({','.join('?' * len(kinds))}) "
        "ORDER BY e.id",
        tuple(kinds),
    ).fetchall()


def held_affinities(reader: sqlite3.Connection) -> dict[str, dict[str, float]]:
    """Every customer's stored affinities, as written."""
    out: dict[str, dict[str, float]] = {}
    for customer_id, category, score in reader.execute("SELECT customer_id, category, score FROM affinities"):
        out.setdefault(customer_id, {})[category] = float(score)
    return out


def visit_days(reader: sqlite3.Connection, customer_id: str) -> list[int]:
    rows = reader.execute("SELECT day FROM visit_days WHERE customer_id = ? ORDER BY day", (customer_id,))
    return [int(r[0]) for r in rows]


def owned_items(reader: sqlite3.Connection, customer_id: str, since: float) -> list[tuple[str, str, float]]:
    """(sku, title, bought_at) bought within the last year."""
    rows = reader.execute(
        "SELECT o.sku, COALESCE(p.title, o.sku), o.bought_at FROM owned o LEFT JOIN products p ON p.sku = o.sku "
        "WHERE o.customer_id = ? AND o.bought_at >= ? ORDER BY o.bought_at DESC",
        (customer_id, since),
    )
    return [(str(s), str(t), float(b)) for s, t, b in rows]


def also_liked(
    reader: sqlite3.Connection, skus: Sequence[str], now: float, half_life_s: float, min_support: int, limit: int = 5
) -> list[tuple[str, str, int]]:
    """(sku, title, support) often liked or bought with any of `skus`, strongest first."""
    if not skus:
        return []
    marks = ",".join("?" * len(skus))
    rows = reader.execute(
        f"SELECT other, COALESCE(p.title, other), COUNT(*) AS support, "
        f"SUM(pow(0.5, max(? - ts, 0) / ?)) AS weight FROM ("
        f" SELECT b AS other, ts, source FROM cooccurrence WHERE a IN ({marks})"
        f" UNION ALL SELECT a AS other, ts, source FROM cooccurrence WHERE b IN ({marks})"
        f") LEFT JOIN products p ON p.sku = other WHERE other NOT IN ({marks}) "
        f"GROUP BY other HAVING support >= ? ORDER BY weight DESC, other LIMIT ?",
        (now, half_life_s, *skus, *skus, *skus, min_support, limit),
    )
    return [(str(s), str(t), int(n)) for s, t, n, _ in rows]


def top_pairs(reader: sqlite3.Connection, min_support: int, limit: int = 10) -> list[tuple[str, str, int]]:
    rows = reader.execute(
        "SELECT a, b, COUNT(*) AS n FROM cooccurrence GROUP BY a, b HAVING n >= ? ORDER BY n DESC, a, b LIMIT ?",
        (min_support, limit),
    )
    return [(str(a), str(b), int(n)) for a, b, n in rows]


def offer_titles(reader: sqlite3.Connection) -> dict[str, str]:
    return {str(oid): str(title) for oid, title in reader.execute("SELECT offer_id, title FROM offers")}


def product_title(reader: sqlite3.Connection, sku: str) -> Product | None:
    """Title and category of one SKU, by the products' primary key."""
    row = reader.execute("SELECT title, category FROM products WHERE sku = ?", (sku,)).fetchone()
    return None if row is None else Product(str(row[0]), str(row[1]))


def product_skus(reader: sqlite3.Connection) -> list[str]:
    return [sku for (sku,) in reader.execute("SELECT sku FROM products ORDER BY sku")]


def product_count(reader: sqlite3.Connection) -> int:
    return int(reader.execute("SELECT COUNT(*) FROM products").fetchone()[0])


def product_titles(reader: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """sku → (title, category)."""
    return {
        sku: (title, category) for sku, title, category in reader.execute("SELECT sku, title, category FROM products")
    }


def export_customer(reader: sqlite3.Connection, customer_id: str) -> dict[str, Any]:
    """Everything the box holds about one customer (a subject-access export)."""
    tables: dict[str, tuple[str, str]] = {
        "identifiers": ("customer_identifiers", "customer_id"),
        "affinities": ("affinities", "customer_id"),
        "owned": ("owned", "customer_id"),
        "visit_days": ("visit_days", "customer_id"),
        "visits": ("visits", "customer_id"),
        "alerts": ("alerts", "customer_id"),
        "sales": ("sales", "customer_id"),
        "events": ("events", "customer_id"),
    }
    out: dict[str, Any] = {}
    for name, (table, column) in tables.items():
        cursor = reader.execute(f"SELECT * FROM {table} WHERE {column} = ?", (customer_id,))
        keys = [d[0] for d in cursor.description]
        out[name] = [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
    return out


def metric_rows(reader: sqlite3.Connection, since: float) -> list[tuple[float, str, dict[str, str], float]]:
    """(bucket_start, name, labels, value) of closed buckets since `since`, and of the open ones."""
    closed = reader.execute(
        "SELECT bucket_start, name, labels, value FROM aggregates WHERE bucket_start >= ?", (since,)
    ).fetchall()
    open_ = reader.execute(
        "SELECT bucket_start, name, labels, value FROM open_counts WHERE bucket_start >= ?", (since,)
    )
    visitors = reader.execute(
        "SELECT bucket_start, 'footfall_visitors', json_object('kind', kind), COUNT(*) FROM open_visitors "
        "WHERE bucket_start >= ? GROUP BY bucket_start, kind",
        (since,),
    )
    return [(float(b), str(n), json.loads(lb), float(v)) for b, n, lb, v in [*closed, *open_, *visitors]]
