"""Withdrawn and forgotten customers, kept as keyed hashes so that no re-import undoes them.

A CRM export still says `consent: true` for someone who withdrew at the store, and still lists
someone the store forgot. The box keeps `HMAC(secret, customer id)` of each — never the id — with
the reason and the date; the secret is made once per database. Only `customer consent ID --give`
or a signed consent token with `consent: true` lifts an entry.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time

SECRET_KEY = "suppression.secret"


def _secret(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM state WHERE key = ?", (SECRET_KEY,)).fetchone()
    if row is None:
        conn.execute("INSERT OR IGNORE INTO state(key, value) VALUES (?, lower(hex(randomblob(32))))", (SECRET_KEY,))
        row = conn.execute("SELECT value FROM state WHERE key = ?", (SECRET_KEY,)).fetchone()
    return bytes.fromhex(str(row[0]))


def key_of(conn: sqlite3.Connection, customer_id: str) -> str:
    return hmac.new(_secret(conn), f"edge-agent/suppressed/v1|{customer_id}".encode(), hashlib.sha256).hexdigest()


def suppress(conn: sqlite3.Connection, customer_id: str, reason: str, at: float | None = None) -> None:
    """Inside the caller's transaction: remember that this customer withdrew or was forgotten."""
    conn.execute(
        "INSERT INTO suppressed(key, reason, at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET reason = excluded.reason, at = excluded.at",
        (key_of(conn, customer_id), reason, time.time() if at is None else at),
    )


def lift(conn: sqlite3.Connection, customer_id: str) -> bool:
    """Consent given again: the customer may be imported and recognised once more."""
    return conn.execute("DELETE FROM suppressed WHERE key = ?", (key_of(conn, customer_id),)).rowcount > 0


def suppressed(conn: sqlite3.Connection, customer_id: str) -> tuple[str, float] | None:
    """(reason, when) if the customer withdrew or was forgotten on this box."""
    row = conn.execute("SELECT reason, at FROM suppressed WHERE key = ?", (key_of(conn, customer_id),)).fetchone()
    return None if row is None else (str(row[0]), float(row[1]))
