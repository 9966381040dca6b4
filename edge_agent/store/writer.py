"""The single writer: queued effects are batched into one transaction each, acks run after COMMIT.

When the store cannot commit — the SD card is full, the filesystem went read-only, I/O errors —
that is a state, not a log flood: the writer keeps the batch it holds and retries it with
backoff until it commits, takes no new inputs meanwhile (its queue fills, the pipeline waits,
sources stop reading and acknowledging, brokers and devices hold the rest), reports
`store: disk full` in `status` and `/healthz`, and says so once per episode. Free space is
watched too: below `store.min_free_mb` it first sheds what may go (dead-letter samples, raw
events past retention, the oldest outbox batches, each counted) and only then refuses inputs.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.component import OK, Component, Health, Sample, Status
from . import space
from .db import connect
from .effects import Effects, apply_all
from .rows import Write, dead_letter_count, dead_letter_sample

log = logging.getLogger(__name__)

# SQLite primary result codes that say "the environment cannot take a write now", not "this input is bad"
_ENVIRONMENT = {
    5: "database is locked",
    6: "table is locked",
    7: "out of memory",
    8: "read-only",
    10: "I/O error",
    13: "disk full",
    14: "cannot open the database file",
    15: "locking protocol",
}
SPACE_CHECK_S = 5.0
DRAIN_S = 5.0  # how long a stop waits for a store that cannot write


@dataclass(slots=True)
class _Pending:
    effects: Effects
    bucket: float = 0.0
    done: asyncio.Future[bool] | None = field(default=None)


def unwritable(exc: sqlite3.Error) -> str | None:
    """Why the store cannot write, when `exc` is about the environment rather than the statement."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _ENVIRONMENT:
        return _ENVIRONMENT[code & 0xFF]
    text = str(exc).lower()
    return next((why for why in ("disk full", "read-only", "i/o error") if why.replace("-", "") in text), None)


class StoreWriter(Component):
    """Owns the write connection; `apply()` queues effects, `commit()` waits until they are on disk."""

    name = "store"
    critical = True

    def __init__(
        self,
        path: Path,
        *,
        max_batch: int = 1000,
        max_delay_s: float = 0.05,
        queue_size: int = 10_000,
        min_free_mb: float = 0.0,
        max_db_mb: float | None = None,
        retention_s: float = 7 * 86400,
    ) -> None:
        self._path = path
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(queue_size)
        self._conn: sqlite3.Connection | None = None
        self._min_free = min_free_mb * 1024 * 1024
        self._max_db_mb = max_db_mb
        self._retention_s = retention_s
        self._space_checked = 0.0
        self.batches = 0
        self.rows = 0
        self.failed = 0
        self.shed = 0
        self._batch: list[_Pending] = []
        self.problem: str | None = None  # why commits are held right now
        self._problem_since: float | None = None
        self.episodes = 0

    async def __aenter__(self) -> StoreWriter:
        self._conn = await asyncio.to_thread(connect, self._path)
        self.limit(self._max_db_mb)
        return self

    def limit(self, max_db_mb: float | None) -> None:
        """Cap the database file (`store.max_db_mb`; None: the filesystem is the limit)."""
        assert self._conn is not None
        self._max_db_mb = max_db_mb
        page = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(max_db_mb * 2**20 // page) if max_db_mb is not None else 0xFFFFFFFE
        self._conn.execute(f"PRAGMA max_page_count = {pages}")

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def _refusing(self) -> bool:
        """Below `store.min_free_mb` after shedding: inputs wait without trying (the held batch too)."""
        return self.problem is not None and self.problem.startswith("low")

    @property
    def writable(self) -> bool:
        return self.problem is None

    async def apply(self, effects: Effects, bucket: float = 0.0) -> None:
        """Queue one input's effects (waits only when the queue is full: backpressure)."""
        item = _Pending(effects, bucket)
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            await self._queue.put(item)

    def enqueue(self, effects: Effects) -> None:
        """Queue effects without waiting (before the writer runs, e.g. while the runtime is built)."""
        self._queue.put_nowait(_Pending(effects))

    async def commit(self, effects: Effects, bucket: float = 0.0) -> bool:
        """Queue effects and wait until committed; False when their guard found a redelivery."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(effects, bucket, done))
        return await done

    async def submit(self, *writes: Write) -> None:
        """Queue plain writes that nobody waits for."""
        await self.apply(Effects(writes=writes))

    async def write(self, *writes: Write) -> None:
        """Queue writes and wait until they are committed to disk."""
        await self.commit(Effects(writes=writes, urgent=True))

    async def run(self) -> None:
        while True:
            # The batch in hand is kept where drain() finds it: a stop while gathering, committing
            # or waiting out a full disk must neither lose it nor apply it twice (committed inputs
            # leave the list at once).
            self._batch = [await self._queue.get()]
            await self._gather(self._batch)
            await self._commit(self._batch)

    async def drain(self) -> None:
        """Commit the batch in hand and what is still queued (the agent stopped its producers first).

        While the store cannot write, stopping does not wait for ever: what is left was never
        acknowledged, so its senders deliver it again after the restart.
        """
        batches = [self._batch] if self._batch else []
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batches.append(batch)
        for batch in batches:
            try:
                async with asyncio.timeout(DRAIN_S):
                    await self._commit(batch)
            except TimeoutError:
                left = sum(len(b) for b in batches if b)
                log.warning("store: stopping with %d inputs not stored (%s); unacknowledged ones come again",
                            left, self.problem)  # fmt: skip
                return

    async def _gather(self, batch: list[_Pending]) -> None:
        """Add what arrives before the deadline (none once someone waits)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_delay_s
        urgent = batch[0].effects.urgent
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                # The deadline holds even while writes keep coming: acknowledgements wait on commits.
                remaining = deadline - loop.time()
                if urgent or remaining <= 0:
                    return
                try:
                    async with asyncio.timeout(remaining):  # not wait_for: it can lose a cancel on 3.11
                        item = await self._queue.get()
                except TimeoutError:
                    return
            batch.append(item)
            urgent = urgent or item.effects.urgent

    async def _commit(self, batch: list[_Pending]) -> None:
        """Commit `batch`, holding it (and so every later input) for as long as the store cannot write."""
        delay = 0.5
        while True:
            await self._watch_space()
            if not self._refusing:
                try:
                    await self._transaction(batch)
                except sqlite3.Error as exc:
                    why = unwritable(exc)
                    if why is None:
                        await self._one_by_one(batch, exc)
                        return
                    self._held(f"{why}: {exc}" if why not in str(exc) else str(exc), disk=why)
                except Exception as exc:  # noqa: BLE001 -- domain code inside the transaction raised: one input's failure
                    await self._one_by_one(batch, exc)
                    return
                else:
                    self._resumed()
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _one_by_one(self, batch: list[_Pending], exc: Exception) -> None:
        """A bad statement or a raising operation must not poison the rest: retry one by one,
        failing only its owner."""
        log.error("batch of %d inputs failed (%s); retrying them one by one", len(batch), exc)
        while batch:
            try:
                await self._transaction(batch, 1)  # takes the first input off `batch` once committed
            except sqlite3.Error as error:
                if unwritable(error) is not None:
                    await self._commit(batch)  # the store went away meanwhile: hold the rest like any other
                    return
                self._failed(batch.pop(0), error)
            except Exception as error:  # noqa: BLE001 -- see _commit: this input's failure, not the writer's
                self._failed(batch.pop(0), error)

    def _failed(self, pending: _Pending, error: Exception) -> None:
        """The input's effects cannot be stored: say so, keep a dead letter, and acknowledge it as
        nothing new (no alert, no emit) so that one poison input cannot hold every later ack."""
        self.failed += 1
        log.error("input dropped, its effects were not stored: %s: %s", type(error).__name__, error)
        detail = f"{type(error).__name__}: {str(error)[:300]}"
        now = time.time()
        try:
            assert self._conn is not None
            with self._conn:
                for w in (
                    dead_letter_sample(now, "store", "unstorable", detail, b""),
                    dead_letter_count(now, "store", "unstorable"),
                ):
                    self._conn.execute(w.sql, w.params)
        except sqlite3.Error as exc:
            log.warning("store: the dead letter of a dropped input was not kept either: %s", exc)
        if pending.done is not None and not pending.done.done():
            pending.done.set_exception(error)
        elif pending.effects.on_commit is not None:
            _resolve(pending, False)

    def _held(self, problem: str, *, disk: str) -> None:
        if self.problem is None:
            self.episodes += 1
            self._problem_since = time.monotonic()
            log.warning(
                "store: cannot commit (%s); holding inputs and retrying until it can — free space in %s",
                problem,
                self._path.parent,
            )
        self.problem = "disk full" if disk == "disk full" else problem

    def _resumed(self) -> None:
        if self.problem is not None and not self.problem.startswith("low"):
            since = time.monotonic() - (self._problem_since or time.monotonic())
            log.warning("store: writable again after %.0fs; the held inputs are committed", since)
            self.problem = None

    async def _watch_space(self) -> None:
        """Below `store.min_free_mb`: shed what may go, and refuse inputs while still below."""
        now = time.monotonic()
        if self._min_free <= 0 or (now - self._space_checked < SPACE_CHECK_S and self.problem is None):
            return
        self._space_checked = now
        free = await asyncio.to_thread(_free_bytes, self._path.parent)
        if free >= self._min_free:
            if self.problem is not None and self.problem.startswith("low"):
                log.warning("store: %.0f MB free again; taking inputs", free / 2**20)
                self.problem = None
            return
        if self.problem is None:
            shed = await asyncio.to_thread(self._shed)
            self.shed += shed
            log.warning("store: only %.1f MB free (store.min_free_mb %.0f): dropped %d sheddable rows",
                        free / 2**20, self._min_free / 2**20, shed)  # fmt: skip
            free = await asyncio.to_thread(_free_bytes, self._path.parent)
        if free < self._min_free and self.problem is None:
            self.episodes += 1
            self._problem_since = time.monotonic()
            log.warning("store: still below %.0f MB free: refusing inputs until there is room", self._min_free / 2**20)
            self.problem = f"low on space ({free / 2**20:.1f} MB free, store.min_free_mb {self._min_free / 2**20:.0f})"

    def _shed(self) -> int:
        assert self._conn is not None
        try:
            return space.shed(self._conn, time.time() - self._retention_s)
        except sqlite3.Error as exc:
            log.debug("store: shedding failed: %s", exc)
            return 0

    async def _transaction(self, batch: list[_Pending], count: int | None = None) -> list[bool]:
        """The first `count` inputs of `batch` (all by default) in one transaction: statements on
        the loop, COMMIT (the fsync) in a thread. Once committed they leave `batch` and their
        callbacks run (acknowledgements), even when we are being cancelled.

        Each statement takes microseconds; run in a worker thread, every one of them would
        wait to get the GIL back from the busy loop (measured: 181 µs instead of 14 µs per input).
        """
        conn = self._conn
        assert conn is not None
        units = batch[:count]
        conn.execute("BEGIN IMMEDIATE")
        try:
            fresh = apply_all(conn, [(pending.effects, pending.bucket) for pending in units])
            done = asyncio.ensure_future(asyncio.to_thread(self._execute, "COMMIT"))
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                await asyncio.wait([done])  # let the COMMIT finish in its thread before anyone touches conn
                if done.exception() is None:
                    self._committed(batch, len(units), fresh)
                raise
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._committed(batch, len(units), fresh)
        return fresh

    def _committed(self, batch: list[_Pending], count: int, fresh: list[bool]) -> None:
        committed = batch[:count]
        del batch[:count]
        self.batches += 1
        self.rows += count
        if any(pending.effects.checkpoint for pending in committed):
            # An erasure: into the database file and out of the WAL before anyone hears it is done
            # (rare enough to block the loop for the checkpoint's fsync).
            self._execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for pending, one in zip(committed, fresh, strict=True):
            _resolve(pending, one)

    def _execute(self, sql: str) -> None:
        assert self._conn is not None
        self._conn.execute(sql)

    def status(self) -> Status:
        health = OK if self.problem is None else Health("failing", f"store: {self.problem}")
        return Status(
            self.name,
            "store",
            state="writable" if self.problem is None else "held",
            health=health,
            samples=(
                Sample(
                    "store_writable",
                    1.0 if self.problem is None else 0.0,
                    kind="gauge",
                    help="1 while the store commits inputs; 0 while it holds them (disk full, I/O errors)",
                ),
                Sample("store_batches", self.batches, help="Transactions committed"),
                Sample("store_inputs", self.rows, help="Inputs committed"),
                Sample("store_failed", self.failed, help="Inputs whose effects could not be stored"),
                Sample("store_shed_rows", self.shed, help="Rows dropped to keep free space"),
                Sample("store_unwritable_episodes", self.episodes, help="Times the store stopped taking inputs"),
                Sample("store_queue_depth", self.depth, kind="gauge", help="Inputs waiting for a commit"),
            ),
            body={
                "writable": self.problem is None,
                "problem": self.problem,
                "depth": self.depth,
                "batches": self.batches,
                "rows": self.rows,
                "failed": self.failed,
                "shed": self.shed,
            },
        )


def _free_bytes(folder: Path) -> float:
    return float(shutil.disk_usage(folder).free)


def _resolve(pending: _Pending, fresh: bool) -> None:
    if pending.done is not None and not pending.done.done():
        pending.done.set_result(fresh)
    callback = pending.effects.on_commit
    if callback is not None:
        try:
            callback(fresh)
        except Exception:  # a failing ack or emit must not stop the writer (it would stop every ack)
            log.exception("after-commit callback failed")
