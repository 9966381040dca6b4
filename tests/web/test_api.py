"""The HTTP API: auth, SSE with replay, staff actions, signed check-ins, health and metrics."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.config.agent import AgentConfig
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.store import connect
from edge_agent.store.effects import open_counts
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually


def bearer(config: AgentConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.http.staff_token}"}


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[tuple[int, dict[str, object]]]:
    """Parse `count` SSE `alert` events from a streaming response."""
    events: list[tuple[int, dict[str, object]]] = []
    event_id, data = 0, ""
    async with asyncio.timeout(20):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                events.append((event_id, json.loads(data)))
                data = ""
    return events


async def test_open_and_protected_endpoints(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        url = agent.http_url
        async with http.get(f"{url}/") as r:
            assert r.status == 200 and "Staff token" in await r.text()  # the login page, not the alerts
        for path in ("/api/alerts", "/api/status", "/api/alerts/stream"):
            async with http.get(f"{url}{path}") as r:
                assert r.status == 401, path
        async with http.get(f"{url}/api/alerts", headers={"Authorization": "Bearer wrong-token-wrong"}) as r:
            assert r.status == 401
        async with http.get(f"{url}/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}
        async with http.get(f"{url}/metrics") as r:
            families = {f.name for f in text_string_to_metric_families(await r.text())}
            assert {
                "edge_agent_source_events",
                "edge_agent_queue_depth",
                "edge_agent_scoring_fallback",
                "edge_agent_scoring_seconds",
                "edge_agent_people_present",
                "edge_agent_dead_letters",
                "edge_agent_entries",
                "edge_agent_tablets_connected",
            } <= families
        async with http.get(f"{url}/api/status", headers=bearer(config)) as r:
            status = await r.json()
            assert status["store_id"] == "store-test" and status["scoring"]["fallback"] is False
        async with http.post(f"{url}/login", data={"token": "nope"}, allow_redirects=False) as r:
            assert r.status == 401 and "Wrong token" in await r.text()
        async with http.post(f"{url}/login", data={"token": config.http.staff_token}, allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(f"{url}/") as r:  # the cookie from the login
            assert "Customer alerts" in await r.text()


async def test_stream_replays_missed_alerts_and_actions_are_stored(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    source = SimulatedBleSource(arrivals(f"{UUID}:100:1", f"{UUID}:100:2", gap_s=0.2, stay_s=30), speed=2)
    async with running_agent(Agent(config, [source])) as agent, aiohttp.ClientSession(headers=bearer(config)) as http:
        url = agent.http_url
        async with http.get(f"{url}/api/alerts/stream") as stream:
            ((first_id, card),) = await read_events(stream, 1)
        assert card["customer_id"] == "c-ada" and card["visits_90d"] == 7 and card["tier"] == "gold"
        assert card["offers"][0]["offer_id"] == "o-shoes"  # type: ignore[index]

        # A check-in arrives while the tablet is away; on reconnect it gets exactly that one.
        token = make_token(config.checkin.key, "c-grace", config.store_id, int(time.time()) + 60, "n-1")
        async with http.post(f"{url}/api/checkin", json={"token": token}) as r:
            assert r.status == 200
        async with http.get(f"{url}/api/alerts/stream", headers={"Last-Event-ID": str(first_id)}) as stream:
            ((_, missed),) = await read_events(stream, 1)
        assert missed["customer_id"] == "c-grace" and missed["zone"] == "entrance"

        alert_id = card["alert_id"]
        async with http.post(
            f"{url}/api/alerts/{alert_id}/ack", json={"action": "accepted", "offer_id": "o-shoes"}
        ) as r:
            assert r.status == 200
        async with http.post(f"{url}/api/alerts/{alert_id}/ack", json={"action": "launch"}) as r:
            assert r.status == 400
        async with http.post(f"{url}/api/alerts/nope/ack", json={"action": "ack"}) as r:
            assert r.status == 404
        async with http.get(f"{url}/api/alerts") as r:
            listed = {a["alert_id"]: a for a in await r.json()}
        assert listed[alert_id]["action"] == "accepted"
        assert agent.stats.counters["entries_alert"] == 2  # Bob never consented: no alert for him
    db = connect(config.db_path)
    assert db.execute("SELECT action, action_offer_id FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone() == (
        "accepted",
        "o-shoes",
    )
    names = {name for name, _ in open_counts(db)}
    assert {"alert_actions", "offers_accepted", "alerts_sent"} <= names


async def test_checkin_refuses_bad_tokens(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    now = int(time.time())
    key, sid = config.checkin.key, config.store_id
    cases = {
        "bad_signature": make_token("00" * 32, "c-grace", sid, now + 60, "a"),
        "other_store": make_token(key, "c-grace", "store-9999", now + 60, "b"),
        "expired": make_token(key, "c-grace", sid, now - 1, "c"),
        "ttl_too_long": make_token(key, "c-grace", sid, now + 3600, "d"),
        "malformed": "not.a-token",
    }
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        url = agent.http_url
        for reason, token in cases.items():
            async with http.post(f"{url}/api/checkin", json={"token": token}) as r:
                assert (await r.json()) == {"error": reason}, reason
                assert r.status in (400, 403)
        good = make_token(key, "c-grace", sid, now + 60, "once")
        async with http.post(f"{url}/api/checkin", json={"token": good}) as r:
            assert r.status == 200
        async with http.post(f"{url}/api/checkin", json={"token": good}) as r:
            assert r.status == 403 and (await r.json()) == {"error": "replayed"}
        # A valid token for someone without consent is accepted silently and changes nothing.
        bob = make_token(key, "c-bob", sid, now + 60, "bob")
        async with http.post(f"{url}/api/checkin", json={"token": bob}) as r:
            assert r.status == 200
        await eventually(lambda: agent.stats.counters["checkins_unrecognised"] == 1)
        assert agent.stats.counters["entries_alert"] == 1


async def test_an_action_on_one_tablet_reaches_every_other_tablet_as_an_update(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession(headers=bearer(config)) as http:
        url = agent.http_url
        token = make_token(config.checkin.key, "c-grace", config.store_id, int(time.time()) + 60, "u-1")
        async with http.post(f"{url}/api/checkin", json={"token": token}) as r:
            assert r.status == 200
        async with http.get(f"{url}/api/alerts/stream") as other_tablet:
            ((_, card),) = await read_events(other_tablet, 1)
            async with http.post(f"{url}/api/alerts/{card['alert_id']}/ack", json={"action": "dismissed"}) as r:
                assert r.status == 200
            async with asyncio.timeout(10):
                while (await other_tablet.content.readline()).decode() != "event: update\n":
                    pass
                data = json.loads((await other_tablet.content.readline()).decode().removeprefix("data: "))
        assert data == {"alert_id": card["alert_id"], "action": "dismissed"}
        async with http.get(f"{url}/api/alerts/stream") as later:  # a tablet connecting later sees the action too
            ((_, replayed),) = await read_events(later, 1)
        assert replayed["action"] == "dismissed"
