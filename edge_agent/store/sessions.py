"""The tablets' sign-in state that must outlive a restart: the session secret and the sign-outs."""

from __future__ import annotations

import sqlite3

from .rows import Write

SECRET_KEY = "session.secret"


def session_secret(conn: sqlite3.Connection) -> bytes:
    """The database's session secret, made once."""
    conn.execute("INSERT OR IGNORE INTO state(key, value) VALUES (?, lower(hex(randomblob(32))))", (SECRET_KEY,))
    (value,) = conn.execute("SELECT value FROM state WHERE key = ?", (SECRET_KEY,)).fetchone()
    return bytes.fromhex(str(value))


def revoked_sessions(conn: sqlite3.Connection, now: float) -> dict[str, float]:
    """Sign-outs still in force (sid → expiry); expired ones are purged."""
    conn.execute("DELETE FROM revoked_sessions WHERE expires < ?", (now,))
    return {str(sid): float(exp) for sid, exp in conn.execute("SELECT sid, expires FROM revoked_sessions")}


def revoke(sid: str, expires: float) -> Write:
    return Write("INSERT OR IGNORE INTO revoked_sessions(sid, expires) VALUES (?, ?)", (sid, expires))
