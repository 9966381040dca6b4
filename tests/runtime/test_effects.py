"""What an acknowledged input changes is durable with its ack, survives a restart, and is erasable."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import aiomqtt

from edge_agent.config.agent import AgentConfig
from edge_agent.core.events import Alert
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually


def token(config: AgentConfig, customer: str, nonce: str) -> str:
    return make_token(config.checkin.key, customer, config.store_id, int(time.time()) + 120, nonce)


async def checkin(url: str, body: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/api/checkin", json={"token": body}) as r:
        return r.status


async def test_a_checkin_token_replayed_after_a_restart_is_refused(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    signed = token(config, "c-grace", "once")
    async with running_agent(Agent(config)) as agent:
        assert await checkin(agent.http_url or "", signed) == 200
        assert await checkin(agent.http_url or "", signed) == 403  # replayed, same run
    async with running_agent(Agent(config)) as agent:  # the nonce was committed with the visit
        assert await checkin(agent.http_url or "", signed) == 403
        assert agent.stats.counters["entries_alert"] == 0
    visits = connect(config.db_path).execute("SELECT COUNT(*) FROM visits WHERE customer_id = 'c-grace'")
    assert visits.fetchone()[0] == 1


async def test_a_forgotten_customer_leaves_the_tablets_and_the_files_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = seeded_config(tmp_path)
    headers = {"Authorization": f"Bearer {config.http.staff_token}"}
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession(headers=headers) as http:
        url = agent.http_url
        assert await checkin(url or "", token(config, "c-ada", "a")) == 200
        assert await checkin(url or "", token(config, "c-grace", "g")) == 200
        async with http.get(f"{url}/api/alerts") as r:
            assert {a["customer_id"] for a in await r.json()} == {"c-ada", "c-grace"}
        result = cli("customer", "forget", "c-ada", "--yes", "--config", tmp_path / "agent.yaml")
        assert result.code == 0, result.err

        # Picked up on the next tick, no restart needed.
        await eventually(lambda: {c.alert.customer_id for c in agent.runtime.hub.recent()} == {"c-grace"})
        async with http.get(f"{url}/api/alerts") as r:
            assert {a["customer_id"] for a in await r.json()} == {"c-grace"}
        async with http.get(f"{url}/api/alerts/stream") as stream:
            replay = (await stream.content.readuntil(b"retry:")).decode()
        assert "c-ada" not in replay and "Ada Lovelace" not in replay
        # While the agent still runs (its connections open, its WAL in use), not only after it stops.
        assert traces_in_files(config.db_path, b"c-ada", b"Ada Lovelace", f"{UUID}:100:1".encode()) == []
    assert traces_in_files(config.db_path, b"c-ada", b"Ada Lovelace", f"{UUID}:100:1".encode()) == []


def traces_in_files(db: Path, *traces: bytes) -> list[tuple[str, bytes]]:
    """What `strings` would find in the database, its WAL and shared-memory files."""
    found = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        raw = path.read_bytes() if path.exists() else b""
        found += [(path.name, trace) for trace in traces if trace in raw]
    return found


class Stuck:
    """A sink that never returns (a webhook whose server hangs)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def deliver(self, alert: Alert) -> None:
        self.entered.set()
        await asyncio.Event().wait()


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    async def deliver(self, alert: Alert) -> None:
        self.calls += 1
        raise ConnectionError("webhook refused")


async def test_a_stuck_and_a_failing_sink_hold_up_neither_ingestion_nor_the_other_sinks(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = seeded_config(tmp_path, mqtt={"url": mqtt_broker.url})
    stuck, failing = Stuck(), Failing()
    async with (
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as staff,
        running_agent(Agent(config, extra_sinks=[stuck, failing])) as agent,
    ):
        await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)
        for n, customer in enumerate(("c-ada", "c-grace")):
            assert await checkin(agent.http_url or "", token(config, customer, f"n{n}")) == 200
        received = []
        async with asyncio.timeout(20):
            async for message in staff.messages:
                received.append(json.loads(message.payload)["customer_id"])
                if len(received) == 2:
                    break
        assert sorted(received) == ["c-ada", "c-grace"]
        assert len(agent.runtime.hub.recent()) == 2
        await eventually(lambda: failing.calls == 2)
        assert stuck.entered.is_set()  # still inside its first delivery
        # The staff app may hold an alert before its PUBACK is counted: wait for the count.
        await eventually(lambda: agent.snapshot()["sinks"]["mqtt-alerts"]["delivered"] == 2)
        sinks = agent.snapshot()["sinks"]
        assert sinks["extra-0"]["delivered"] == 0 and sinks["extra-0"]["queued"] == 1
        assert sinks["extra-1"]["failed"] == 2
        assert sinks["mqtt-alerts"]["delivered"] == 2 and sinks["tablets"]["delivered"] == 2


async def test_an_alert_committed_but_never_confirmed_is_published_after_a_restart(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = seeded_config(tmp_path, mqtt={"url": "mqtt://127.0.0.1:1"})  # the store broker is unreachable
    async with running_agent(Agent(config)) as agent:
        assert await checkin(agent.http_url or "", token(config, "c-ada", "x")) == 200
    db = connect(config.db_path)
    ((alert_id, published),) = db.execute("SELECT alert_id, published FROM alerts").fetchall()
    assert published == 0
    config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": mqtt_broker.url})})
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as staff:
        await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)
        async with running_agent(Agent(config)):
            async with asyncio.timeout(20):
                message = await anext(staff.messages)
            assert json.loads(message.payload)["alert_id"] == alert_id
            await eventually(lambda: db.execute("SELECT published FROM alerts").fetchone()[0] == 1)


async def test_healthz_fails_when_the_store_writer_is_dead(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        async with http.get(f"{agent.http_url}/healthz") as r:
            assert r.status == 200
        writer = next(task for task in asyncio.all_tasks() if task.get_name() == "store")
        writer.cancel()  # as if the committer had died
        await eventually(writer.done)
        async with http.get(f"{agent.http_url}/healthz") as r:
            verdict = await r.json()
            assert r.status == 503 and verdict["status"] == "failing" and "store" in verdict["failed"]
            assert "store stopped" in verdict["reasons"]
