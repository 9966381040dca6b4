"""A store that cannot write is a state: inputs are held and retried until they commit, said once,
reported, and nothing is lost or doubled. (`PRAGMA max_page_count` stands in for a full card;
tests/test_faults.py fills a real filesystem.)"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from edge_agent.store import Effects, StoreWriter, Write, connect
from edge_agent.store.rows import seen
from edge_agent.store.writer import unwritable
from edge_agent.testing.components import running
from edge_agent.testing.wait import eventually

PAD = "x" * 2000  # each input a row of ~2 KB


def inputs(start: int, count: int) -> list[Effects]:
    return [
        Effects(
            guard=seen(f"input-{i}", float(i)),
            writes=(Write("INSERT INTO events(ts, device_id, kind, payload) VALUES (?, 'd', 'k', ?)", (i, PAD)),),
        )
        for i in range(start, start + count)
    ]


def stored(path: Path) -> int:
    with connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


async def test_a_full_store_holds_inputs_and_commits_them_all_once_when_there_is_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.db"
    acked: list[bool] = []
    with caplog.at_level(logging.WARNING):
        async with running(StoreWriter(path, max_db_mb=1.0)) as writer:
            for effects in inputs(0, 2000):  # ~4 MB: far over the cap
                await writer.apply(Effects(effects.guard, effects.writes, on_commit=acked.append))
            await eventually(lambda: not writer.writable)
            status = writer.status()
            assert status.health.level == "failing" and status.health.reason == "store: disk full"
            assert {s.name: s.value for s in status.samples}["store_writable"] == 0.0
            held_at = len(acked)
            await asyncio.sleep(0.3)
            assert len(acked) == held_at  # nothing more is acknowledged while it cannot commit
            writer.limit(None)  # room again
            await eventually(lambda: len(acked) == 2000, within=60)
            assert writer.writable and writer.status().health.ok
            again = await asyncio.gather(*(writer.commit(e) for e in inputs(0, 2000)))
            assert again == [False] * 2000  # every one redelivered: nothing changes
    assert stored(path) == 2000 and acked == [True] * 2000
    episode = [r for r in caplog.records if "cannot commit" in r.getMessage()]
    assert len(episode) == 1  # one warning for the episode, not one per input
    assert any("writable again" in r.getMessage() for r in caplog.records)


async def test_a_bad_statement_still_fails_alone_while_the_rest_commit(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with running(StoreWriter(path)) as writer:
        bad = writer.commit(Effects(writes=(Write("INSERT INTO nosuchtable VALUES (1)"),)))
        good = writer.commit(inputs(0, 1)[0])
        results = await asyncio.gather(bad, good, return_exceptions=True)
    assert isinstance(results[0], Exception) and results[1] is True
    assert stored(path) == 1


async def test_below_min_free_it_sheds_then_refuses_inputs(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    # More free space required than any disk here has: shed, then refuse.
    async with running(StoreWriter(path, min_free_mb=10**9)) as writer:
        await writer.apply(inputs(0, 1)[0])
        await eventually(lambda: not writer.writable)
        assert writer.problem is not None and writer.problem.startswith("low on space")
        assert writer.status().health.level == "failing"


def test_what_counts_as_a_store_that_cannot_write() -> None:
    """The environment's refusals hold inputs; a bad statement fails only its input."""
    full, readonly, io = (
        sqlite3.OperationalError(m)
        for m in ("database or disk is full", "attempt to write a readonly database", "disk I/O error")
    )
    for exc, code in ((full, 13), (readonly, 8), (io, 10)):
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    assert unwritable(full) == "disk full" and unwritable(readonly) == "read-only" and unwritable(io) == "I/O error"
    with sqlite3.connect(":memory:") as db:
        try:
            db.execute("INSERT INTO nosuchtable VALUES (1)")
        except sqlite3.Error as exc:
            assert unwritable(exc) is None
