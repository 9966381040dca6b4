"""The database: WAL, forward migrations, and the batching writer."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.core.errors import StoreError
from edge_agent.learning.profile import AFFINITY_CAP
from edge_agent.store import SCHEMA_VERSION, StoreWriter, Write, connect
from edge_agent.store.schema import MIGRATIONS
from edge_agent.testing.components import running

TABLES = {
    "devices",
    "customers",
    "customer_identifiers",
    "offers",
    "events",
    "visits",
    "alerts",
    "dead_letters",
    "aggregates",
    "outbox",
}


def test_new_database_is_wal_with_every_table(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names >= TABLES


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    connect(tmp_path / "a.db").execute("INSERT INTO state(key, value) VALUES ('k', 'v')")
    again = connect(tmp_path / "a.db")
    assert again.execute("SELECT value FROM state").fetchall() == [("v",)]


def test_upgrading_aligns_each_customers_affinities_within_the_cap(tmp_path: Path) -> None:
    """Rows that decayed one by one are brought to the customer's newest time, within ±10."""
    month = 30 * 86400
    alignment = next(i for i, script in enumerate(MIGRATIONS) if "UPDATE affinities" in script)
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    for script in MIGRATIONS[:alignment]:  # the schema as the release before the alignment left it
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {alignment}")
    conn.execute("INSERT INTO customers(customer_id, consent, updated_at) VALUES ('c1', 1, 0)")
    conn.execute(f"INSERT INTO affinities VALUES ('c1', 'outerwear', 25.0, {month}), ('c1', 'shoes', -14.0, 0)")
    conn.execute("INSERT INTO affinities VALUES ('c1', 'bags', 4.0, 0)")
    conn.close()
    again = connect(tmp_path / "a.db")
    rows = {c: (s, at) for c, s, at in again.execute("SELECT category, score, updated_at FROM affinities")}
    assert rows == {"outerwear": (AFFINITY_CAP, month), "shoes": (-7.0, month), "bags": (2.0, month)}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this edge-agent"):
        connect(tmp_path / "a.db")


def test_dead_letter_samples_are_bounded_per_device_and_reason(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    for i in range(50):
        conn.execute(
            "INSERT INTO dead_letters(ts, device_id, reason, sample) VALUES (?, 'd1', 'bad_json', x'00')", (i,)
        )
        conn.execute(
            "INSERT INTO dead_letters(ts, device_id, reason, sample) VALUES (?, 'd2', 'bad_json', x'00')", (i,)
        )
    counts = dict(conn.execute("SELECT device_id, COUNT(*) FROM dead_letters GROUP BY device_id").fetchall())
    assert counts == {"d1": 20, "d2": 20}
    newest = conn.execute("SELECT MIN(ts) FROM dead_letters WHERE device_id = 'd1'").fetchone()[0]
    assert newest == 30


async def test_writer_batches_many_writes_into_few_transactions(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with running(StoreWriter(path, max_delay_s=0.05)) as writer:
        for i in range(2000):
            await writer.submit(Write("INSERT INTO events(ts, device_id, kind) VALUES (?, 'd', 'k')", (i,)))
        await writer.write(Write("INSERT INTO events(ts, device_id, kind) VALUES (-1, 'd', 'last')"))
        assert writer.rows == 2001
        assert writer.batches < 50
    assert connect(path).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2001


async def test_a_bad_write_fails_alone_and_the_rest_commit(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with running(StoreWriter(path, max_delay_s=0.2)) as writer:
        good = asyncio.ensure_future(writer.write(Write("INSERT INTO state(key, value) VALUES ('a', '1')")))
        bad = asyncio.ensure_future(writer.write(Write("INSERT INTO no_such_table VALUES (1)")))
        good2 = asyncio.ensure_future(writer.write(Write("INSERT INTO state(key, value) VALUES ('b', '2')")))
        await good
        await good2
        with pytest.raises(sqlite3.OperationalError):
            await bad
    assert connect(path).execute("SELECT key FROM state ORDER BY key").fetchall() == [("a",), ("b",)]


async def test_drain_commits_what_was_submitted(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with StoreWriter(path, max_delay_s=10) as writer:  # never run: only drained, as at shutdown
        for i in range(10):
            await writer.submit(Write("INSERT INTO events(ts, device_id, kind) VALUES (?, 'd', 'k')", (i,)))
        await writer.drain()
    assert connect(path).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 10


def test_sigkill_mid_batch_ten_times_loses_no_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    script = Path(__file__).with_name("writer_load.py")
    rng = random.Random(42)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    for cycle in range(10):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        wanted = rng.randint(3, 40)
        committed = 0
        for _ in range(wanted):
            line = proc.stdout.readline()
            assert line.startswith("committed "), f"cycle {cycle}: writer said {line!r}"
            committed = int(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = conn.execute("SELECT COUNT(*) FROM events WHERE id <= ?", (committed,)).fetchone()[0]
        assert present == committed, f"cycle {cycle}: {committed - present} committed rows lost"
        conn.close()


def test_data_dir_and_database_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "data" / "edge-agent.db"
        conn = connect(db)
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (1)")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [db.parent, *db.parent.iterdir()]}
        conn.close()
    finally:
        os.umask(old)
    assert modes.pop("data") == 0o700
    assert modes and set(modes.values()) == {0o600}, modes  # the database, its -wal and -shm
