"""The brokers chains run: RabbitMQ 3.x's MQTT plugin and NATS's MQTT listener (JetStream), each
started privately, as the store broker and as the cloud broker.

What must hold on each: mirror events counted exactly once across a broker restart and an agent
SIGKILL; entry alerts from scanners as they ship; batches reach the cloud across a cloud restart;
a QoS 2 subscription granted as QoS 1 still delivers each message once; an MQTT 5 uplink against
these 3.1.1-only brokers fails with one line that says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_customers
from edge_agent.links.inbound import Endpoint, InboundSession
from edge_agent.runtime import Agent
from edge_agent.sources.mqtt import remote_scanner_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually, wait_until
from edge_agent.uplink.outbox import outbox_status
from tests.brokers import Broker, NatsBroker, RabbitBroker, nats_binary, rabbitmq_available
from tests.sources.test_mqtt_crash import count, mirror_link, start_agent
from tests.uplink.test_cloud import fill_outbox

KINDS = [
    pytest.param("rabbitmq", marks=pytest.mark.skipif(not rabbitmq_available(), reason="rabbitmq-server missing")),
    pytest.param("nats", marks=pytest.mark.skipif(nats_binary() is None, reason="nats-server missing")),
]
BURST = 600
CLOUD_TOPIC = "retail/store-test/aggregates"


@pytest.fixture(scope="module", params=KINDS)
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """One broker per kind for the module (a RabbitMQ node takes seconds to boot); tests that stop
    or kill it start it again."""
    with RabbitBroker() if request.param == "rabbitmq" else NatsBroker() as b:
        yield b


@pytest.fixture
def live(broker: Broker) -> Broker:
    broker.start()  # a test before may have left it stopped
    return broker


def publish_burst(port: int, topic: str, done: threading.Event) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"mirror-burst-{port}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    now = time.time()
    infos = []
    for i in range(BURST):  # a mirror's pace, not a flood: the kill must land mid-burst on any broker
        body = json.dumps({"event": "try_on", "session_id": f"s{i}", "sku": "SKU-1", "ts": now})
        infos.append(client.publish(topic, body, qos=1))
        time.sleep(0.005)
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    done.set()


def test_mirror_events_are_counted_once_across_an_agent_sigkill_and_a_broker_restart(
    tmp_path: Path, live: Broker
) -> None:
    config = write_config(
        tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": live.url},
        devices={"auto_register": True}, ble={"remote_scanners": False},
    )  # fmt: skip
    db = tmp_path / "data" / "edge-agent.db"
    agent = start_agent(config)
    try:
        wait_until(lambda: mirror_link(config) == "connected", within=60)
        done = threading.Event()
        publisher = threading.Thread(target=publish_burst, args=(live.port, "store/store-test/mirror/m1/events", done))
        publisher.start()
        wait_until(lambda: count(db)[0] >= 60, within=60)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        assert count(db)[0] < BURST, "the burst ended before the kill; nothing was tested"
        publisher.join(120)
        assert done.is_set()
        live.restart()  # what the broker acknowledged must survive its own restart too
        agent = start_agent(config)
        wait_until(lambda: count(db)[0] >= BURST, within=120)
        time.sleep(1)  # anything redelivered late would show up now
        assert count(db) == (BURST, BURST)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(20)


async def test_a_scanner_as_it_ships_makes_an_entry_alert_on_the_broker(tmp_path: Path, live: Broker) -> None:
    config = load_config(
        write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": live.url},
            zones=[{"id": "entrance", "scanners": ["OpenMQTTGateway"]}], scoring={"holdout_pct": 0},
        )
    )  # fmt: skip
    (tmp_path / "c.csv").write_text(
        "customer_id,display_name,consent,ibeacon\nc-1,Ada,true,1de4b189-115e-45f6-b44e-509352269977:0:0\n"
    )
    import_customers(connect(config.db_path), tmp_path / "c.csv")
    advert = {"id": "58:78:20:76:BC:24", "rssi": -60, "model_id": "IBEACON", "mfid": "4c00",
              "uuid": "1de4b189115e45f6b44e509352269977", "major": 0, "minor": 0, "txpower": -66}  # fmt: skip
    alerts: list[dict[str, object]] = []
    agent = Agent(config, [remote_scanner_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    async with aiomqtt.Client("127.0.0.1", live.port, identifier="tablet") as staff:
        await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)

        async def listen() -> None:
            async for message in staff.messages:
                assert isinstance(message.payload, bytes)
                alerts.append(json.loads(message.payload))

        listener = asyncio.create_task(listen())
        await eventually(lambda: agent.ready.is_set() and agent.snapshot()["mqtt"]["state"] == "connected", within=30)
        await eventually(lambda: agent.snapshot()["sources"].get("mqtt-ble-scanners", {}).get("link") == "connected")
        for n in range(1, 4):
            await staff.publish("home/OpenMQTTGateway/BTtoMQTT/58782076BC24", json.dumps(advert))
            await eventually(lambda n=n: agent.stats.counters["ble_adverts"] == n)  # type: ignore[misc]
        await eventually(lambda: len(alerts) == 1, within=30)
        listener.cancel()
    stop.set()
    await task
    assert alerts[0]["customer_id"] == "c-1" and alerts[0]["zone"] == "entrance"


def cloud_config(tmp_path: Path, cloud: Broker, **uplink: object):  # type: ignore[no-untyped-def]
    return load_config(
        write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": "mqtt://127.0.0.1:1"},
            uplink={"kind": "mqtt", "url": cloud.url, "interval_s": 0.2, **uplink},
        )
    )  # fmt: skip


async def consume(cloud: Broker, into: list[str], ready: asyncio.Event) -> None:
    """The chain's consumer: a persistent QoS 1 session that reconnects when its broker restarts."""
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", cloud.port, identifier="cloud-consumer", clean_session=False) as c:
                await c.subscribe(CLOUD_TOPIC, qos=1)
                ready.set()
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    into.append(json.loads(message.payload)["batch_id"])
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


async def test_batches_reach_the_cloud_broker_across_its_restart(tmp_path: Path, live: Broker) -> None:
    config = cloud_config(tmp_path, live)
    connect(config.db_path).close()
    await fill_outbox(config.db_path, 150)
    received: list[str] = []
    ready = asyncio.Event()
    consumer = asyncio.create_task(consume(live, received, ready))
    await asyncio.wait_for(ready.wait(), 30)
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: len(received) >= 30, within=60, every=0.005)
    await asyncio.to_thread(live.restart)
    await eventually(lambda: len(set(received)) == 150, within=120)
    await eventually(lambda: outbox_status(connect(config.db_path))["backlog"] == 0)
    stop.set()
    await task
    consumer.cancel()
    assert sorted(set(received)) == [f"batch-{i:03d}" for i in range(150)]


async def test_an_mqtt5_uplink_against_a_3_1_1_broker_says_so_in_one_line(tmp_path: Path, live: Broker) -> None:
    config = cloud_config(tmp_path, live, protocol=5)
    connect(config.db_path).close()
    await fill_outbox(config.db_path, 1)
    agent = Agent(config, [])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: outbox_status(connect(config.db_path))["last_error"] is not None, within=30)
    error = outbox_status(connect(config.db_path))["last_error"]["error"]
    stop.set()
    await task
    assert "\n" not in error and "MQTT 5" in error and "set uplink.protocol: 4" in error
    assert outbox_status(connect(config.db_path))["backlog"] == 1  # kept for when the config is fixed


async def test_a_qos2_subscription_granted_as_qos1_delivers_each_message_once(live: Broker) -> None:
    endpoint = Endpoint("127.0.0.1", live.port)
    got: list[bytes] = []
    async with InboundSession(endpoint, "qos2-reader", clean=False) as session:
        await session.subscribe([("shop/qos2", 2)])
        async with aiomqtt.Client("127.0.0.1", live.port, identifier="qos2-writer") as writer:
            for i in range(20):
                await writer.publish("shop/qos2", str(i).encode(), qos=1)
        async for message in session.messages():
            got.append(message.payload)
            assert message.qos == 1
            session.ack(message)
            if len(got) == 20:
                break  # leaving the session flushes the acknowledgements
    async with InboundSession(endpoint, "qos2-reader", clean=False) as again:  # acknowledged: nothing comes back
        await again.subscribe([("shop/qos2", 2)])
        late: list[bytes] = []

        async def read() -> None:
            async for message in again.messages():
                late.append(message.payload)

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(read(), 1.0)
    assert late == []
    assert got == [str(i).encode() for i in range(20)]
