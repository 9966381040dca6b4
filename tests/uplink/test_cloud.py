"""Fault injection against a real "cloud" mosquitto with TLS and client certificates (trustme)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
import trustme

from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker, free_port
from edge_agent.store import StoreWriter, Write, connect
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.pki import Pki
from edge_agent.testing.wait import eventually
from edge_agent.uplink.outbox import outbox_status

TOPIC = "retail/store-test/aggregates"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return Pki(folder)


@pytest.fixture
def cloud(pki: Pki, tmp_path: Path) -> Iterator[MosquittoBroker]:
    (tmp_path / "cloud").mkdir()
    broker = MosquittoBroker(free_port(), tls=pki.server, workdir=tmp_path / "cloud")
    yield broker
    broker.stop()


def agent_config(tmp_path: Path, cloud: MosquittoBroker, pki: Pki, ca: Path | None = None):  # type: ignore[no-untyped-def]
    tls = {"ca": str(ca or pki.ca_pem), "cert": str(pki.client_cert), "key": str(pki.client_key)}
    return load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=tmp_path / "data",
            mqtt={"url": "mqtt://127.0.0.1:1"},
            uplink={"kind": "mqtt", "url": cloud.url, "tls": tls, "interval_s": 0.2},
        )
    )


async def fill_outbox(db: Path, n: int) -> None:
    async with running(StoreWriter(db)) as writer:
        await writer.write(
            *(
                Write(
                    "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                    (f"batch-{i:03d}", float(i), json.dumps({"batch_id": f"batch-{i:03d}", "buckets": []}), 40),
                )
                for i in range(n)
            )
        )


async def collect(pki: Pki, cloud: MosquittoBroker, into: list[str], ready: asyncio.Event) -> None:
    """The cloud's consumer: a persistent session that reconnects when its broker restarts."""
    while True:
        try:
            async with aiomqtt.Client(
                "127.0.0.1", cloud.port, identifier="cloud-consumer", tls_context=pki.context(), clean_session=False
            ) as c:
                await c.subscribe(TOPIC, qos=1)
                ready.set()
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    into.append(json.loads(message.payload)["batch_id"])
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


async def test_cloud_down_then_back_every_batch_arrives(tmp_path: Path, cloud: MosquittoBroker, pki: Pki) -> None:
    config = agent_config(tmp_path, cloud, pki)
    connect(config.db_path).close()
    await fill_outbox(config.db_path, 30)  # a backlog built up while the store was offline
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: outbox_status(connect(config.db_path))["last_error"] is not None)
    assert agent.snapshot()["uplink"]["backlog"] == 30  # figures keep working while the cloud is away
    cloud.start()
    received: list[str] = []
    ready = asyncio.Event()
    consumer = asyncio.create_task(collect(pki, cloud, received, ready))
    await ready.wait()
    assert agent.runtime.uplink is not None
    agent.runtime.uplink.wake()  # what `edge-agent sync now` does
    await eventually(lambda: len(set(received)) == 30, within=60)
    await eventually(lambda: outbox_status(connect(config.db_path))["backlog"] == 0)
    stop.set()
    await task
    consumer.cancel()
    assert sorted(set(received)) == [f"batch-{i:03d}" for i in range(30)]
    assert received == sorted(received)  # oldest first (any duplicate would repeat an id, never reorder)


async def test_a_wrong_ca_is_refused(tmp_path: Path, cloud: MosquittoBroker, pki: Pki) -> None:
    other = trustme.CA()
    wrong = tmp_path / "wrong-ca.pem"
    wrong.write_bytes(other.cert_pem.bytes())
    config = agent_config(tmp_path, cloud, pki, ca=wrong)
    connect(config.db_path).close()
    await fill_outbox(config.db_path, 2)
    cloud.start()
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: outbox_status(connect(config.db_path))["last_error"] is not None)
    error = outbox_status(connect(config.db_path))["last_error"]["error"]
    assert "certificate" in error.lower()
    assert outbox_status(connect(config.db_path))["backlog"] == 2
    stop.set()
    await task


async def test_cloud_broker_restart_mid_drain_loses_nothing(tmp_path: Path, cloud: MosquittoBroker, pki: Pki) -> None:
    config = agent_config(tmp_path, cloud, pki)
    connect(config.db_path).close()
    await fill_outbox(config.db_path, 240)
    cloud.start()
    received: list[str] = []
    ready = asyncio.Event()
    consumer = asyncio.create_task(collect(pki, cloud, received, ready))
    await ready.wait()
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: len(received) >= 50, within=30, every=0.005)
    cloud.restart()  # mid-batch: whatever was in flight is re-sent after the reconnect
    assert len(set(received)) < 240, "the drain finished before the restart; nothing was tested"
    await eventually(lambda: len(set(received)) == 240, within=90)
    stop.set()
    await task
    consumer.cancel()
    assert sorted(set(received)) == [f"batch-{i:03d}" for i in range(240)]
