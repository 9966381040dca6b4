"""The single writer: queued writes are batched into one transaction each."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from types import TracebackType
from typing import Any

from .db import connect

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Write:
    """One SQL statement to run inside the next batch."""

    sql: str
    params: Params = ()


@dataclass(slots=True)
class _Pending:
    writes: tuple[Write, ...]
    done: asyncio.Future[None] | None = field(default=None)
    on_commit: Callable[[], None] | None = None


class StoreWriter:
    """Owns the write connection; `submit()` queues, `write()` waits until committed."""

    def __init__(
        self,
        path: Path,
        *,
        max_batch: int = 1000,
        max_delay_s: float = 0.05,
        queue_size: int = 10_000,
    ) -> None:
        self._path = path
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(queue_size)
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.rows = 0

    async def __aenter__(self) -> StoreWriter:
        self._conn = await asyncio.to_thread(connect, self._path)
        self._task = asyncio.create_task(self._run(), name="store-writer")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Flush everything queued, then close the connection."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def submit(self, *writes: Write, on_commit: Callable[[], None] | None = None) -> None:
        """Queue writes (waits only when the queue is full: backpressure).

        `on_commit` runs once they are durably committed (e.g. to acknowledge an MQTT message);
        it does not run if they fail.
        """
        await self._queue.put(_Pending(writes, on_commit=on_commit))

    async def write(self, *writes: Write) -> None:
        """Queue writes and wait until they are committed to disk."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(writes, done))
        await done

    async def _run(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._max_delay_s
            while len(batch) < self._max_batch:
                # The deadline holds even while writes keep coming: acknowledgements wait on commits.
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    try:
                        async with asyncio.timeout(remaining):  # not wait_for: it can lose a cancel on 3.11
                            item = await self._queue.get()
                    except TimeoutError:
                        break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        assert self._conn is not None
        writes = [w for pending in batch for w in pending.writes]
        try:
            await asyncio.to_thread(self._apply, self._conn, writes)
        except sqlite3.Error as exc:
            # A bad statement must not poison the rest: retry one by one, failing only its owner.
            log.error("batch of %d writes failed (%s); retrying individually", len(writes), exc)
            for pending in batch:
                try:
                    await asyncio.to_thread(self._apply, self._conn, list(pending.writes))
                except sqlite3.Error as one:
                    log.error("write dropped: %s (%s)", one, pending.writes[0].sql.split("(")[0])
                    if pending.done is not None and not pending.done.done():
                        pending.done.set_exception(one)
                    continue
                _resolve(pending)
            return
        self.batches += 1
        self.rows += len(writes)
        for pending in batch:
            _resolve(pending)

    @staticmethod
    def _apply(conn: sqlite3.Connection, writes: list[Write]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Runs of the same statement go through executemany: one prepare, far less overhead.
            for sql, run in groupby(writes, key=lambda w: w.sql):
                conn.executemany(sql, [w.params for w in run])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _resolve(pending: _Pending) -> None:
    if pending.done is not None and not pending.done.done():
        pending.done.set_result(None)
    if pending.on_commit is not None:
        pending.on_commit()
