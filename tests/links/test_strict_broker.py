"""The agent against a strict stand-in broker, as a broker vendor's conformance suite would try it:
acknowledgement order across devices, QoS 2 from a broker that breaks its grant, refused logins,
a broker that drops connections right after CONNACK, and a broker that lost the session."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from pathlib import Path

import pytest

from edge_agent.config.agent import AgentConfig, load_config
from edge_agent.links import LinkState
from edge_agent.links.mqtt import MqttPublisher
from edge_agent.runtime import Agent
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent
from edge_agent.testing.strict_broker import StrictBroker
from edge_agent.testing.wait import eventually

NOW = time.time()


def config_for(tmp: Path, broker: StrictBroker) -> AgentConfig:
    return load_config(
        write_config(
            tmp / "agent.yaml",
            data_dir=tmp / "data",
            mqtt={"url": broker.url},
            devices={"auto_register": True, "rate_per_s": 100_000, "burst": 100_000},
        )
    )


def event(device: str, n: int, kind: str = "try_on") -> bytes:
    return json.dumps({"event": kind, "session_id": f"{device}-s", "sku": f"SKU-{n}", "ts": NOW + n / 1000}).encode()


def stored(config: AgentConfig) -> int:
    conn = connect(config.db_path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'mirror'").fetchone()[0])
    finally:
        conn.close()


async def test_pubacks_leave_in_arrival_order_across_three_busy_mirrors(tmp_path: Path) -> None:
    async with StrictBroker() as broker:
        config = config_for(tmp_path, broker)
        prefix = config.topic_prefix
        async with running_agent(Agent(config, [mirror_source(config)])):
            await eventually(lambda: bool(broker.subscribers(f"{config.topic_prefix}/mirror/m/events")))
            # One mirror bursts 600 events while two others send 300 each, on one subscription:
            # the fair queue serves the devices round robin, so commits are not in arrival order.
            for n in range(600):
                broker.send(f"{prefix}/mirror/mirror-1/events", event("mirror-1", n))
            for n in range(300):
                broker.send(f"{prefix}/mirror/mirror-2/events", event("mirror-2", n))
                broker.send(f"{prefix}/mirror/mirror-3/events", event("mirror-3", n))
            await eventually(lambda: broker.unacknowledged() == 0 and stored(config) == 1200, within=60)
        assert broker.violations == []
        (subscriber,) = [c for c in broker.clients if c.client_id.endswith("-mirror")]
        assert len(subscriber.acked) == 1200 and subscriber.acked == sorted(subscriber.acked)


async def test_qos2_from_a_broker_that_breaks_its_grant_is_stored_once_and_completed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with StrictBroker() as broker:
        config = config_for(tmp_path, broker)
        topic = f"{config.topic_prefix}/mirror/mirror-1/events"
        with caplog.at_level(logging.WARNING):
            async with running_agent(Agent(config, [mirror_source(config)])):
                await eventually(lambda: bool(broker.subscribers(f"{config.topic_prefix}/mirror/m/events")))
                for n in range(20):
                    broker.send(topic, event("mirror-1", n), qos=2)
                await eventually(lambda: broker.unacknowledged() == 0 and stored(config) == 20)
        assert broker.violations == []  # PUBREC in order, never a PUBACK; every PUBREL got its PUBCOMP
        assert sum("QoS 2" in r.getMessage() for r in caplog.records) == 1  # said once


async def test_a_refused_login_is_said_once_and_retried_at_the_long_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with StrictBroker(refuse=4) as broker:
        config = config_for(tmp_path, broker)
        source = mirror_source(config)
        with caplog.at_level(logging.WARNING):
            async with running_agent(Agent(config, [source])) as agent:
                await eventually(lambda: source.link.state is LinkState.REFUSED)
                links = agent.snapshot()["links"]
        assert links["mqtt-mirror"]["state"] == "refused" and links["mqtt-mirror"]["retry_in_s"] == 300.0
        said = [r.getMessage() for r in caplog.records if "mqtt-mirror" in r.getMessage()]
        assert len(said) == 1 and "bad user name or password" in said[0]


async def test_a_broker_that_lost_the_session_is_resubscribed_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with StrictBroker(session_present=False) as broker:
        config = config_for(tmp_path, broker)
        with caplog.at_level(logging.INFO):
            async with running_agent(Agent(config, [mirror_source(config)])):
                await eventually(lambda: bool(broker.subscribers(f"{config.topic_prefix}/mirror/m/events")))
        assert any("held no session" in r.getMessage() for r in caplog.records)


async def test_the_publisher_follows_a_broker_that_drops_it_right_after_connack(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with StrictBroker(drop_after_connack=True) as broker:
        config = config_for(tmp_path, broker)
        publisher = MqttPublisher(config.mqtt, client_id="edge-agent-test-pub")
        with caplog.at_level(logging.DEBUG):
            async with running(publisher):
                await eventually(lambda: broker.connections >= 3)
                status = publisher.status()
            gc.collect()
            await asyncio.sleep(0)
        assert status.state != "connected"
        assert not any("never retrieved" in r.getMessage() for r in caplog.records)


async def test_an_idle_publisher_notices_its_connection_is_gone(tmp_path: Path) -> None:
    async with StrictBroker() as broker:
        config = config_for(tmp_path, broker)
        publisher = MqttPublisher(config.mqtt, client_id="edge-agent-test-pub")
        async with running(publisher):
            await eventually(lambda: publisher.status().state == "connected")
            for client in broker.clients:
                client.writer.close()  # the broker drops it while nothing is being published
            await eventually(lambda: publisher.status().state != "connected" or publisher.link.failures > 0)
            assert publisher.link.failures >= 1
            started = time.monotonic()
            await eventually(lambda: publisher.status().state == "connected")
            assert time.monotonic() >= started
