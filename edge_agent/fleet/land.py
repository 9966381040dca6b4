"""`edge-agent fleet land`: workers that land batches in PostgreSQL, acknowledging after commit.

Each worker owns one database connection and one consumer session and runs under the project's
one retry loop (`links.Link`): a broker or database that goes away is a reconnect with jittered
backoff, never a crash. A message is acknowledged only after its batch (or its rejection) is
committed, so any number of workers, kills and redeliveries land each `batch_id` exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ..links.link import Link
from . import store as database
from .batches import Refused, parse
from .consumers import Consumer, Delivery

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Tally:
    """What the workers of this process did; `/metrics` and the progress line read it."""

    landed: int = 0
    duplicates: int = 0
    rejected: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # receipt → commit, the newest 10 000

    def note_latency(self, ms: float) -> None:
        self.latencies_ms.append(ms)
        if len(self.latencies_ms) > 10_000:
            del self.latencies_ms[:5_000]


async def handle(conn: psycopg.AsyncConnection[Any], delivery: Delivery, tally: Tally) -> None:
    """Land (or keep aside) one delivery, then acknowledge it."""
    received = time.monotonic()
    batch = parse(delivery.payload)
    if isinstance(batch, Refused):
        await database.reject(conn, batch.reason, delivery.payload)
        tally.rejected += 1
        log.warning("batch refused and kept aside: %s", batch.reason)
    elif await database.land(conn, batch):
        tally.landed += 1
    else:
        tally.duplicates += 1
    await delivery.ack()  # after the commit: a kill before this line means a redelivery, never a loss
    tally.note_latency((time.monotonic() - received) * 1000)


def worker(
    db_url: str, consumer: Consumer, tally: Tally, name: str, ready: asyncio.Event | None = None
) -> Callable[[], Any]:
    """One worker: (re)connects database and consumer under one `Link`, lands until cancelled;
    `ready` is set once its subscription stands (from then on nothing published is missed)."""
    link = Link(f"fleet worker {name}", initial=0.5, cap=15.0, long_cap=60.0)

    @asynccontextmanager
    async def connect() -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], AsyncIterator[Delivery]]]:
        conn = await database.connect(db_url)
        try:
            async with consumer() as deliveries:
                if ready is not None:
                    ready.set()
                yield conn, deliveries
        finally:
            await conn.close()

    async def serve(session: tuple[psycopg.AsyncConnection[Any], AsyncIterator[Delivery]]) -> None:
        conn, deliveries = session
        async for delivery in deliveries:
            await handle(conn, delivery, tally)
        raise ConnectionError("the broker ended the session")

    async def run() -> None:
        await link.run(connect, serve)

    return run


async def progress(tally: Tally, every_s: float, say: Callable[[str], None]) -> None:
    """One line every `every_s`: what was landed, refused and seen twice, and the rate."""
    last, last_t = 0, time.monotonic()
    while True:
        await asyncio.sleep(every_s)
        now = time.monotonic()
        rate = (tally.landed - last) / (now - last_t)
        last, last_t = tally.landed, now
        say(f"landed {tally.landed} ({rate:.0f}/s), {tally.duplicates} seen again, {tally.rejected} kept aside")
