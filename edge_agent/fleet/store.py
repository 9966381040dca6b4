"""The landing database (PostgreSQL): migrations, one transaction per batch, the fleet's queries.

`land()` writes a batch row and its metric rows in one transaction with `ON CONFLICT DO NOTHING`
on the batch's key: a batch delivered twice, by a redelivery after a crash or a republishing box,
changes nothing the second time. The caller acknowledges the message only after `land()` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .batches import Batch

MIGRATIONS = "edge_agent.fleet.migrations"


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, autocommit=False)


def migrations() -> list[tuple[str, str]]:
    """(name, SQL) of every migration, in order."""
    files = [f for f in resources.files(MIGRATIONS).iterdir() if f.name.endswith(".sql")]
    return sorted((f.name, f.read_text()) for f in files)


async def migrate(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; returns their names.
    Several workers starting at once serialise on an advisory lock."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('edge-agent fleet migrate'))")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS fleet_migrations (name text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
        )
        done = {row[0] for row in await (await conn.execute("SELECT name FROM fleet_migrations")).fetchall()}
        for name, sql in migrations():
            if name not in done:
                await conn.execute(sql.encode())  # a file of ours, not a user's string
                await conn.execute("INSERT INTO fleet_migrations(name) VALUES (%s)", (name,))
                applied.append(name)
    return applied


async def land(conn: psycopg.AsyncConnection[Any], batch: Batch) -> bool:
    """Land `batch` exactly once; True when it was new, False when it was already there."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO batches (batch_id, store_id, group_id, part, parts, bucket_start, bucket_end,"
            " agent_version, model_version, health) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id",
            (
                batch.batch_id, batch.store_id, batch.group_id, batch.part, batch.parts, batch.bucket_start,
                batch.bucket_end, batch.agent_version, batch.model_version,
                Jsonb(batch.health) if batch.health is not None else None,
            ),
        )  # fmt: skip
        if await cur.fetchone() is None:
            return False
        if batch.metrics:
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO metrics (batch_id, store_id, bucket_start, name, labels, value)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (batch.batch_id, batch.store_id, batch.bucket_start, m.name, Jsonb(m.labels), m.value)
                        for m in batch.metrics
                    ],
                )
    return True


async def reject(conn: psycopg.AsyncConnection[Any], reason: str, payload: bytes) -> None:
    async with conn.transaction():
        await conn.execute("INSERT INTO rejected (reason, payload) VALUES (%s, %s)", (reason, payload))


@dataclass(frozen=True, slots=True)
class StoreRow:
    store_id: str
    last_batch_at: datetime
    agent_version: str | None
    model_version: str | None
    health: dict[str, Any] | None


async def latest_per_store(conn: psycopg.AsyncConnection[Any]) -> list[StoreRow]:
    """Each store's newest batch (by when it arrived)."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (store_id) store_id, received_at, agent_version, model_version, health"
        " FROM batches ORDER BY store_id, received_at DESC"
    )
    rows = await cur.fetchall()
    await conn.rollback()
    return [StoreRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """Decided visits and conversions of one store (and offer) in one arm."""

    store_id: str
    offer_id: str | None
    group: str
    visits: float
    converted: float


async def arm_counts(conn: psycopg.AsyncConnection[Any], since: datetime) -> list[ArmCounts]:
    """`visits_decided{group}` / `visits_converted{group}` summed per store, overall, and
    `offers_shown` / `offers_redeemed{offer_id,group}` per store and offer (parts sum)."""
    cur = await conn.execute(
        """
        SELECT store_id, labels->>'offer_id' AS offer_id, labels->>'group' AS arm, name, sum(value)
        FROM metrics
        WHERE bucket_start >= %s
          AND name IN ('visits_decided', 'visits_converted', 'offers_shown', 'offers_redeemed')
          AND labels->>'group' IN ('treatment', 'holdout')
        GROUP BY store_id, offer_id, arm, name
        """,
        (since,),
    )
    rows: Sequence[tuple[str, str | None, str, str, float]] = await cur.fetchall()
    await conn.rollback()
    cells: dict[tuple[str, str | None, str], dict[str, float]] = {}
    for store, offer, arm, name, total in rows:
        cells.setdefault((store, offer, arm), {})[name] = float(total)
    out = []
    for (store, offer, arm), named in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
        visits = named.get("visits_decided" if offer is None else "offers_shown", 0.0)
        converted = named.get("visits_converted" if offer is None else "offers_redeemed", 0.0)
        out.append(ArmCounts(store, offer, arm, visits, converted))
    return out
