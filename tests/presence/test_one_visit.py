"""One visit per presence: a check-in or a beacon of a customer already in the store refreshes
that visit; it never starts another (footfall and the holdout counts stay honest)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.store import connect
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually


def entries(db: Path, customer_id: str) -> int:
    with connect(db) as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM visits WHERE customer_id = ? AND entry = 1", (customer_id,)).fetchone()[
                0
            ]
        )


async def checkin(http: aiohttp.ClientSession, url: str, token: str) -> int:
    async with http.post(f"{url}/api/checkin", json={"token": token}) as r:
        return r.status


async def test_repeated_checkins_are_one_visit(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        for n in range(7):
            token = make_token(config.checkin.key, "c-grace", config.store_id, int(time.time()) + 120, f"n{n}")
            assert await checkin(http, agent.http_url or "", token) == 200
        assert agent.stats.counters["visits_refreshed"] == 6
    assert entries(config.db_path, "c-grace") == 1


async def test_a_checkin_during_a_beacon_visit_is_the_same_visit(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    ada = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=0, stay_s=60))
    async with running_agent(Agent(config, [ada])) as agent, aiohttp.ClientSession() as http:
        await eventually(lambda: entries(config.db_path, "c-ada") == 1)
        token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "during")
        assert await checkin(http, agent.http_url or "", token) == 200
        assert await checkin(http, agent.http_url or "", token) == 403  # and its nonce is spent
        await eventually(lambda: agent.stats.counters["visits_refreshed"] >= 1)
    assert entries(config.db_path, "c-ada") == 1
