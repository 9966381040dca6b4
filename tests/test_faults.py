"""Field faults injected into a running agent: what it reports while the fault lasts, and that
afterwards the store holds every acknowledged input exactly once. (README, "Field faults".)"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from edge_agent.config.agent import AgentConfig, load_config
from edge_agent.core.events import Alert
from edge_agent.runtime import Agent
from edge_agent.runtime.control import query_status
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.disk import SmallDisk, can_mount
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually, wait_until

needs_root = pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")
SECTIONS = {"devices": {"auto_register": True, "rate_per_s": 100_000, "burst": 100_000}, "store": {"min_free_mb": 0}}


def make_config(tmp: Path, data_dir: Path, broker: MosquittoBroker, **sections: object) -> AgentConfig:
    return load_config(
        write_config(tmp / "agent.yaml", data_dir=data_dir, mqtt={"url": broker.url}, **{**SECTIONS, **sections})
    )


async def publish(broker: MosquittoBroker, config: AgentConfig, start: int, count: int) -> None:
    topic = f"{config.topic_prefix}/mirror/mirror-1/events"
    async with aiomqtt.Client("127.0.0.1", broker.port, max_inflight_messages=1000) as client:
        for i in range(start, start + count):
            body = {"event": "try_on", "session_id": f"s-{i}", "sku": f"SKU-{i % 50}", "ts": time.time()}
            await client.publish(topic, json.dumps(body).encode(), qos=1)


def counted(config: AgentConfig) -> tuple[int, int]:
    conn = connect(config.db_path, readonly=True)
    try:
        row = conn.execute("SELECT COUNT(*), COUNT(DISTINCT dedup_key) FROM events WHERE kind = 'mirror'").fetchone()
        return int(row[0]), int(row[1])
    finally:
        conn.close()


async def health(agent: Agent) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"{agent.http_url}/healthz") as r:
        return r.status, await r.json()


@asynccontextmanager
async def mirror_agent(config: AgentConfig) -> AsyncIterator[Agent]:
    async with running_agent(Agent(config, [mirror_source(config)])) as agent:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        yield agent


@needs_root
async def test_a_full_sd_card_holds_inputs_and_recovers_by_itself(
    tmp_path: Path, mqtt_broker: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    with SmallDisk(tmp_path / "card", 3) as card, caplog.at_level(logging.WARNING):
        config = make_config(tmp_path, card.path, mqtt_broker)
        async with mirror_agent(config) as agent:
            await publish(mqtt_broker, config, 0, 6000)  # far more than 3 MiB holds
            await eventually(lambda: agent.snapshot()["store"]["writable"] is False, within=60)
            status, verdict = await health(agent)
            assert status == 503 and "store: disk full" in verdict["reasons"]  # type: ignore[operator]
            held = counted(config)[0]
            assert held < 6000
            card.grow(256)  # the card has room again: no restart, nothing else to do
            await eventually(lambda: counted(config)[0] == 6000, within=60)
            assert (await health(agent))[0] == 200
        assert counted(config) == (6000, 6000)  # every one stored, none twice
    assert sum("cannot commit" in r.getMessage() for r in caplog.records) == 1  # one warning, not one per input


async def test_a_paused_broker_loses_nothing(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, tmp_path / "data", mqtt_broker)
    async with mirror_agent(config) as agent:
        await publish(mqtt_broker, config, 0, 300)
        mqtt_broker.pause()  # SIGSTOP: connections stay open, nothing answers
        await asyncio.sleep(2)
        assert (await health(agent))[0] == 200  # a hung broker is not the box's fault
        mqtt_broker.resume()
        await publish(mqtt_broker, config, 300, 300)
        await eventually(lambda: counted(config)[0] == 600, within=60)
    assert counted(config) == (600, 600)


async def test_a_restarted_broker_loses_nothing(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, tmp_path / "data", mqtt_broker)
    async with mirror_agent(config) as agent:
        await publish(mqtt_broker, config, 0, 300)
        mqtt_broker.restart()
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected", within=60)
        await publish(mqtt_broker, config, 300, 300)
        await eventually(lambda: counted(config)[0] == 600, within=60)
    assert counted(config) == (600, 600)


class Stuck:
    """An alert channel that never returns (a hung webhook)."""

    async def deliver(self, alert: Alert) -> None:
        await asyncio.Event().wait()


async def test_a_stuck_sink_delays_nobody(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = seeded_config(tmp_path, mqtt={"url": mqtt_broker.url})
    ada = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=1, stay_s=60))
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as staff:
        await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)
        async with running_agent(Agent(config, [ada], extra_sinks=[Stuck()])) as agent:
            async with asyncio.timeout(30):
                alert = json.loads((await anext(staff.messages)).payload)  # type: ignore[arg-type]
            await eventually(lambda: agent.snapshot()["sinks"]["mqtt-alerts"]["delivered"] == 1)  # its PUBACK
            sinks = agent.snapshot()["sinks"]
            assert (await health(agent))[0] == 200
    assert alert["customer_id"] == "c-ada"
    assert sinks["extra-0"]["delivered"] == 0 and sinks["mqtt-alerts"]["delivered"] == 1


def test_two_boxes_with_one_identity_are_named_and_back_off(tmp_path: Path) -> None:
    with MosquittoBroker(extra_config="log_type all") as broker:
        procs, configs = [], []
        for box in ("a", "b"):  # a cloned SD card: one config, each box its own disk
            path = write_config(tmp_path / f"{box}.yaml", data_dir=tmp_path / box, mqtt={"url": broker.url},
                                store_id="store-0042", **SECTIONS)  # fmt: skip
            configs.append(load_config(path))
            log = (tmp_path / f"{box}.log").open("wb")
            cmd = [sys.executable, "-m", "edge_agent", "run", "--config", str(path)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log))
        try:
            for config in configs:
                wait_until(lambda c=config: _links_in_conflict(c) >= 3, within=60)  # type: ignore[misc]
            started = broker.log().count("already connected")
            time.sleep(15)
            takeovers = broker.log().count("already connected") - started
            snaps = [query_status(c.socket_path) or {} for c in configs]
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(20)
    assert takeovers <= 10, takeovers  # at most 30 a minute between the two, once they know
    for snap in snaps:
        assert snap["health"]["status"] == "degraded"
        assert any("edge-agent-store-0042-mirror" in reason for reason in snap["health"]["reasons"])
    logs = [(tmp_path / f"{box}.log").read_text() for box in ("a", "b")]
    assert all("another box uses client id" in log or "announced itself" in log for log in logs)


def _links_in_conflict(config: AgentConfig) -> int:
    snap = query_status(config.socket_path) or {}
    return sum(link["state"] == "conflict" for link in snap.get("links", {}).values())
