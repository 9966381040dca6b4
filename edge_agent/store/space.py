"""What may go when the SD card runs low: rows whose loss is counted, never silent."""

from __future__ import annotations

import sqlite3

from .outbox import count_dropped

OUTBOX_SHED = 24  # oldest batches dropped per pass (a day of hourly buckets)


def shed(conn: sqlite3.Connection, raw_before: float) -> int:
    """Drop dead-letter samples (their counts stay), raw events past retention, then the oldest
    outbox batches (counted as dropped, reported to the cloud); returns rows removed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        removed = conn.execute("DELETE FROM dead_letters").rowcount
        removed += conn.execute("DELETE FROM events WHERE ts < ?", (raw_before,)).rowcount
        doomed = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq LIMIT ?", (OUTBOX_SHED,))]
        if doomed:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in doomed])
            count_dropped(conn, len(doomed))
            removed += len(doomed)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return removed
