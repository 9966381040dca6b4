"""The runtime's table access: row writes built here, reads answered here (no SQL elsewhere)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Write:
    """One SQL statement to run inside the next batch."""

    sql: str
    params: Params = ()


# --- inputs ---------------------------------------------------------------------------------


def event(ts: float, device_id: str, kind: str, payload: str, customer_id: str | None, dedup_key: str) -> Write:
    """A raw input row; as a guard it claims `dedup_key` (0 rows inserted = already handled)."""
    return Write(
        "INSERT OR IGNORE INTO events(ts, device_id, kind, payload, customer_id, dedup_key) VALUES (?, ?, ?, ?, ?, ?)",
        (ts, device_id, kind, payload, customer_id, dedup_key),
    )


def seen(key: str, ts: float) -> Write:
    """Claims an input's de-duplication key when it leaves no row of its own (a guard)."""
    return Write("INSERT OR IGNORE INTO seen_inputs(key, ts) VALUES (?, ?)", (key, ts))


def nonce(value: str, exp: float) -> Write:
    """Claims a check-in nonce (a guard: a replay inserts nothing)."""
    return Write("INSERT OR IGNORE INTO checkin_nonces(nonce, exp) VALUES (?, ?)", (value, exp))


def dead_letter_sample(ts: float, device_id: str, reason: str, detail: str, sample: bytes) -> Write:
    """Evidence kept for a while (the newest 20 per device and reason, by trigger)."""
    return Write(
        "INSERT INTO dead_letters(ts, device_id, reason, detail, sample) VALUES (?, ?, ?, ?, ?)",
        (ts, device_id, reason, detail[:500], sample[:4096]),
    )


def dead_letter_count(ts: float, device_id: str, reason: str) -> Write:
    return Write(
        "INSERT INTO dead_letter_counts(device_id, reason, count, last_ts) VALUES (?, ?, 1, ?) "
        "ON CONFLICT(device_id, reason) DO UPDATE SET count = count + 1, last_ts = excluded.last_ts",
        (device_id, reason, ts),
    )


def auto_registered_device(device_id: str, profile: str, ts: float) -> Write:
    return Write(
        "INSERT OR IGNORE INTO devices(id, profile, transport, settings, auto_registered, created_at) "
        "VALUES (?, ?, 'mqtt', '{}', 1, ?)",
        (device_id, profile, ts),
    )


# --- visits and alerts ----------------------------------------------------------------------


def visit(customer_id: str, zone: str, ts: float) -> Write:
    return Write("INSERT INTO visits(customer_id, zone, entered_at) VALUES (?, ?, ?)", (customer_id, zone, ts))


def alert(alert_id: str, ts: float, customer_id: str | None, zone: str, card: dict[str, Any]) -> Write:
    """A decided alert, not yet confirmed by the store broker (`published = 0`)."""
    return Write(
        "INSERT INTO alerts(alert_id, ts, customer_id, zone, payload, published) VALUES (?, ?, ?, ?, ?, 0)",
        (alert_id, ts, customer_id, zone, json.dumps(card)),
    )


def sink_delivered(sink: str, alert_id: str, at: float) -> Write:
    return Write("INSERT OR IGNORE INTO sink_deliveries(sink, alert_id, at) VALUES (?, ?, ?)", (sink, alert_id, at))


def sink_added_at(reader: sqlite3.Connection, sink: str) -> float | None:
    """When the sink was first started (its marker record, alert id '')."""
    row = reader.execute("SELECT at FROM sink_deliveries WHERE sink = ? AND alert_id = ''", (sink,)).fetchone()
    return None if row is None else float(row[0])


def undelivered_alerts(reader: sqlite3.Connection, sink: str, since: float) -> list[dict[str, Any]]:
    """Alerts (cards) committed since `since` that `sink` has not confirmed, oldest first."""
    rows = reader.execute(
        "SELECT payload FROM alerts a WHERE ts >= ? AND NOT EXISTS "
        "(SELECT 1 FROM sink_deliveries d WHERE d.sink = ? AND d.alert_id = a.alert_id) ORDER BY ts",
        (since, sink),
    ).fetchall()
    return [json.loads(r[0]) for r in rows]


def alert_published(alert_id: str) -> Write:
    return Write("UPDATE alerts SET published = 1 WHERE alert_id = ?", (alert_id,))


def staff_action(alert_id: str, action: str, ts: float, offer_id: str | None) -> Write:
    """Claims (alert, action): the same button pressed twice, or a retried POST, counts once."""
    return Write(
        "INSERT OR IGNORE INTO alert_actions(alert_id, action, ts, offer_id) VALUES (?, ?, ?, ?)",
        (alert_id, action, ts, offer_id),
    )


def alert_action(alert_id: str, action: str, ts: float, offer_id: str | None) -> Write:
    return Write(
        "UPDATE alerts SET action = ?, action_offer_id = ?, action_ts = ? WHERE alert_id = ?",
        (action, offer_id, ts, alert_id),
    )


def purge_before(cutoff: float, now: float) -> tuple[Write, ...]:
    """Raw, personal rows older than the retention cutoff; spent nonces."""
    return (
        Write("DELETE FROM events WHERE ts < ?", (cutoff,)),
        Write("DELETE FROM visits WHERE entered_at < ?", (cutoff,)),
        Write("DELETE FROM alerts WHERE ts < ?", (cutoff,)),
        Write("DELETE FROM dead_letters WHERE ts < ?", (cutoff,)),
        Write("DELETE FROM checkin_nonces WHERE exp < ?", (now - 3600,)),
        Write("DELETE FROM seen_inputs WHERE ts < ?", (cutoff,)),
        Write("DELETE FROM social_looks WHERE expires_at < ?", (cutoff,)),
    )


# --- reads ----------------------------------------------------------------------------------


def state_value(reader: sqlite3.Connection, key: str) -> str | None:
    row = reader.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def device_zones(reader: sqlite3.Connection) -> dict[str, str | None]:
    return dict(reader.execute("SELECT id, zone FROM devices").fetchall())


def nonce_used(reader: sqlite3.Connection, value: str) -> bool:
    return reader.execute("SELECT 1 FROM checkin_nonces WHERE nonce = ?", (value,)).fetchone() is not None


def alert_exists(reader: sqlite3.Connection, alert_id: str) -> bool:
    return reader.execute("SELECT 1 FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone() is not None


def alert_times(reader: sqlite3.Connection, since: float) -> list[tuple[str, float]]:
    """(customer_id, ts) of alerts since `since`, to seed cooldowns after a restart."""
    return [(c, t) for c, t in reader.execute("SELECT customer_id, ts FROM alerts WHERE ts >= ?", (since,))]


def recent_cards(reader: sqlite3.Connection, limit: int = 500) -> list[tuple[dict[str, Any], int]]:
    """The last alerts as stored for the tablets, with their place in the stream, oldest first."""
    rows = reader.execute("SELECT ts, payload FROM alerts ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()
    return [(json.loads(payload), int(ts * 1000)) for ts, payload in reversed(rows)]


def unpublished_alerts(reader: sqlite3.Connection, since: float) -> list[dict[str, Any]]:
    """Alerts committed but never confirmed by the broker (a crash in between), oldest first."""
    rows = reader.execute("SELECT payload FROM alerts WHERE published = 0 AND ts >= ? ORDER BY ts", (since,)).fetchall()
    return [json.loads(payload) for (payload,) in rows]


def stored_actions(reader: sqlite3.Connection, alert_ids: list[str]) -> dict[str, str]:
    if not alert_ids:
        return {}
    marks = ",".join("?" * len(alert_ids))
    rows = reader.execute(
        f"SELECT alert_id, action FROM alerts WHERE action IS NOT NULL AND alert_id IN ({marks})", alert_ids
    )
    return dict(rows.fetchall())


CUSTOMER_FIELDS = "c.customer_id, c.display_name, c.tier, c.preferred_categories, c.visits_90d, c.spend_90d"


def consenting_customer(reader: sqlite3.Connection, customer_id: str) -> tuple[Any, ...] | None:
    """(customer_id, display_name, tier, preferred_categories JSON, visits_90d, spend_90d), by id."""
    return reader.execute(  # type: ignore[no-any-return]
        f"SELECT {CUSTOMER_FIELDS} FROM customers c WHERE c.customer_id = ? AND c.consent = 1", (customer_id,)
    ).fetchone()


def consenting_customer_by_beacon(reader: sqlite3.Connection, kind: str, value: str) -> tuple[Any, ...] | None:
    """The same, by one of the customer's beacon identifiers (the identifiers' primary key)."""
    return reader.execute(  # type: ignore[no-any-return]
        f"SELECT {CUSTOMER_FIELDS} FROM customer_identifiers i JOIN customers c ON c.customer_id = i.customer_id "
        "WHERE i.kind = ? AND i.value = ? AND c.consent = 1",
        (kind, value),
    ).fetchone()


def consenting_customer_by_row(reader: sqlite3.Connection, rowid: int) -> tuple[Any, ...] | None:
    return reader.execute(  # type: ignore[no-any-return]
        f"SELECT {CUSTOMER_FIELDS} FROM customers c WHERE c.rowid = ? AND c.consent = 1", (rowid,)
    ).fetchone()


def rotating_keys(reader: sqlite3.Connection) -> Iterator[tuple[int, str]]:
    """(row, hex key) of every consenting customer with a rotating identifier, streamed."""
    yield from reader.execute(
        "SELECT rowid, rotating_key FROM customers "
        "WHERE consent = 1 AND rotating_key IS NOT NULL AND rotating_key != ''"
    )


def events_stored(reader: sqlite3.Connection, kind: str) -> int:
    return int(reader.execute("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0])
