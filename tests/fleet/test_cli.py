"""`edge-agent fleet status` and `fleet uplift` on landed batches in a private PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from edge_agent.fleet import store as database
from edge_agent.fleet.batches import Batch, Metric
from tests.pg import PostgresServer, pg_bin

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL binaries missing (make test installs them)")
HEALTHY = {"store_writable": True, "links": {"store-broker": "connected", "uplink": "connected"}, "dead_letters": 0}


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def bucket(store: str, hour: int, metrics: list[Metric], health: dict[str, object] = HEALTHY) -> Batch:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hour)
    return Batch(f"{store}-{hour}".ljust(32, "0")[:32], store, start, start + timedelta(hours=1), tuple(metrics),
                 agent_version="0.1.0", model_version="2026.12.1", health=health)  # fmt: skip


def arms(treated: int, t_conv: int, holdout: int, h_conv: int) -> list[Metric]:
    return [
        Metric("visits_decided", {"group": "treatment"}, treated),
        Metric("visits_converted", {"group": "treatment"}, t_conv),
        Metric("visits_decided", {"group": "holdout"}, holdout),
        Metric("visits_converted", {"group": "holdout"}, h_conv),
        Metric("offers_shown", {"group": "treatment", "offer_id": "o-1"}, treated),
        Metric("offers_redeemed", {"group": "treatment", "offer_id": "o-1"}, t_conv),
        Metric("offers_shown", {"group": "holdout", "offer_id": "o-1"}, holdout),
        Metric("offers_redeemed", {"group": "holdout", "offer_id": "o-1"}, h_conv),
    ]  # fmt: skip


async def land(url: str, batches: list[Batch]) -> list[bool]:
    conn = await database.connect(url)
    try:
        await database.migrate(conn)
        return [await database.land(conn, b) for b in batches]
    finally:
        await conn.close()


def test_status_names_the_silent_store_first_and_the_box_with_a_full_card(cli, pg: PostgresServer) -> None:  # type: ignore[no-untyped-def]
    full = {**HEALTHY, "store_writable": False}
    batches = [bucket("store-a", 0, []), bucket("store-b", 0, [], full), bucket("store-c", 0, [])]
    assert asyncio.run(land(pg.url, batches)) == [True, True, True]
    assert asyncio.run(land(pg.url, batches[:1])) == [False]  # landed once, whatever comes again
    with psycopg.connect(pg.url) as conn:  # store-c went quiet five hours ago
        conn.execute("UPDATE batches SET received_at = now() - interval '5 hours' WHERE store_id = 'store-c'")
    result = cli("fleet", "status", "--db", pg.url, "--json")
    assert result.code == 0, result.err
    stores = json.loads(result.out)["stores"]
    assert stores[0]["store_id"] == "store-c" and stores[0]["silent"] is True
    assert {s["store_id"]: s["silent"] for s in stores} == {"store-a": False, "store-b": False, "store-c": True}
    assert next(s for s in stores if s["store_id"] == "store-b")["health"]["store_writable"] is False
    text = cli("fleet", "status", "--db", pg.url)
    assert text.out.splitlines()[0].startswith("SILENT store-c") and "store cannot commit" in text.out


def test_uplift_pools_the_landed_stores(cli, pg: PostgresServer) -> None:  # type: ignore[no-untyped-def]
    stores = [bucket(f"store-{i}", 1, arms(900 + 10 * i, 130 + i, 100, 10)) for i in range(8)]
    asyncio.run(land(pg.url, stores))
    result = cli("fleet", "uplift", "--db", pg.url, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    overall = report["overall"]
    assert overall["stores"] == 8 and overall["holdout"] == {"visits": 800.0, "converted": 80.0}
    assert overall["ci95"][0] < overall["risk_difference"] < overall["ci95"][1]
    assert overall["cs95"][0] < overall["ci95"][0]
    assert set(report["offers"]) == {"o-1"} and len(report["stores"]) == 8
    words = cli("fleet", "uplift", "--db", pg.url)
    assert words.out.startswith("Across 8 stores alerts lifted conversion by")


def test_without_a_database_it_says_how_to_give_one(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("EDGE_FLEET_DB", raising=False)
    result = cli("fleet", "status")
    assert result.code == 2 and "--db" in result.err
    down = cli("fleet", "status", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert down.code == 1 and "cannot connect to the landing database" in down.err and "Traceback" not in down.err
