"""`edge-agent fleet land` against real engines: a private PostgreSQL, mosquitto and NATS JetStream.

Batches the box's own code builds are published as boxes publish them (QoS 1 on
`retail/<store>/aggregates`, 20 % of them twice), the landing worker is SIGKILLed mid-flow and
the broker restarted; each `batch_id` must land exactly once, with all its metrics, and the one
message that is not a batch must be kept aside with its reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.aggregation.parts import split
from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker, free_port
from edge_agent.sources.mqtt import mirror_source
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually, wait_until
from tests.brokers import NatsBroker, nats_binary
from tests.pg import PostgresServer, pg_bin

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL binaries missing (make test installs them)")

STORES, HOURS = 10, 12
HEADER = {"agent_version": "0.1.0", "model_version": "2026.12.1",
          "health": {"store_writable": True, "links": {"store-broker": "connected"}, "dead_letters": 0}}  # fmt: skip


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def batches(stores: int = STORES, hours: int = HOURS) -> list[tuple[str, str, int]]:
    """(store_id, payload, metric count) of `hours` hourly batches per store, as a box writes them."""
    out = []
    for s in range(stores):
        for h in range(hours):
            start = f"2026-12-01T{h:02d}:00:00+00:00"
            end = f"2026-12-01T{h:02d}:59:59+00:00"
            metrics = [
                {"name": "visits_decided", "labels": {"group": "treatment"}, "value": 40 + h},
                {"name": "visits_decided", "labels": {"group": "holdout"}, "value": 5 + h % 3},
                {"name": "mirror_try_ons", "labels": {"sku": f"SKU-{h}"}, "value": 6},
            ]
            for batch_id, payload in split(f"store-{s:03d}", start, end, metrics, 131_072, HEADER):
                out.append((f"store-{s:03d}", payload, len(json.loads(payload)["buckets"][0]["metrics"])))
                assert batch_id
    return out


def publish(port: int, messages: list[tuple[str, str]]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"boxes-{random.random()}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(f"retail/{store}/aggregates", payload, qos=1) for store, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def landed(url: str) -> tuple[int, int, int, int]:
    """(batch rows, distinct batch ids among them, metric rows, rejected rows)."""
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT (SELECT count(*) FROM batches), (SELECT count(DISTINCT batch_id) FROM batches),"
                " (SELECT count(*) FROM metrics), (SELECT count(*) FROM rejected)"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0, 0, 0, 0
    assert rows is not None
    return rows[0], rows[1], rows[2], rows[3]


def start_land(source: str, url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "fleet", "land", "--from", source, "--db", url, "--progress-s", "1",
             *extra],
            stdout=out, stderr=out,
        )  # fmt: skip


def run_kill_and_restart(source: str, broker_port: int, restart_broker: object, pg: PostgresServer, tmp: Path) -> None:
    produced = batches()
    again = random.Random(7).sample(produced, len(produced) // 5)  # 20 % republished
    messages = [(s, p) for s, p, _ in produced + again] + [("store-999", "this is not a batch")]
    random.Random(8).shuffle(messages)
    worker = start_land(source, pg.url, tmp / "land.log", "--workers", "2")
    try:
        wait_until(lambda: "landing" in (tmp / "land.log").read_text(), within=60)
        publish(broker_port, messages[: len(messages) // 2])
        wait_until(lambda: landed(pg.url)[0] >= 10, within=60, every=0.01)
        os.kill(worker.pid, signal.SIGKILL)  # mid-flow: whatever it had not committed comes again
        worker.wait(10)
        assert landed(pg.url)[0] < len(produced), "everything landed before the kill; nothing was tested"
        publish(broker_port, messages[len(messages) // 2 :])
        restart_broker()  # type: ignore[operator]
        worker = start_land(source, pg.url, tmp / "land.log", "--workers", "2")
        try:
            wait_until(lambda: landed(pg.url)[0] >= len(produced) and landed(pg.url)[3] >= 1, within=150)
        except TimeoutError:  # say why: the workers' own account of what they were doing
            log = (tmp / "land.log").read_text(errors="replace")[-4000:]
            raise AssertionError(f"landed {landed(pg.url)} of {len(produced)}; land.log:\n{log}") from None
        time.sleep(1)  # a late redelivery would show now
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    rows, distinct, metric_rows, rejected = landed(pg.url)
    assert (rows, distinct) == (len(produced), len(produced))
    assert metric_rows == sum(n for _, _, n in produced)
    assert rejected == 1


@pytest.mark.timeout(300)
def test_batches_land_exactly_once_from_mosquitto_across_a_kill_and_a_broker_restart(
    pg: PostgresServer, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    run_kill_and_restart(mqtt_broker.url, mqtt_broker.port, mqtt_broker.restart, pg, tmp_path)


@pytest.mark.skipif(nats_binary() is None, reason="nats-server missing")
@pytest.mark.timeout(300)  # a redelivery after the kill waits out the consumer's 30 s ack_wait
def test_batches_land_exactly_once_from_nats_jetstream_across_a_kill_and_a_broker_restart(
    pg: PostgresServer, tmp_path: Path
) -> None:
    with NatsBroker() as nats:  # boxes publish through its MQTT listener; fleet land reads JetStream
        run_kill_and_restart(f"nats://127.0.0.1:{nats.client_port}", nats.port, nats.restart, pg, tmp_path)


async def test_a_running_box_s_batches_land_with_its_header_and_the_worker_serves_metrics(
    pg: PostgresServer, mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    """The whole way: a box's uplink → the chain's broker → `fleet land` → PostgreSQL."""
    metrics_port = free_port()
    worker = start_land(mqtt_broker.url, pg.url, tmp_path / "land.log", "--metrics-port", str(metrics_port))
    try:
        await eventually(lambda: "landing" in (tmp_path / "land.log").read_text(), within=60)
        config = load_config(
            write_config(
                tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": mqtt_broker.url},
                aggregates={"bucket_s": 1}, devices={"auto_register": True}, ble={"remote_scanners": False},
                uplink={"kind": "mqtt", "url": mqtt_broker.url, "interval_s": 0.2,
                        "topic": "retail/{store_id}/aggregates"},
            )
        )  # fmt: skip
        agent = Agent(config, [mirror_source(config)])
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await eventually(lambda: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected")
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as mirror:  # a shopper at the mirror
            for i in range(40):
                body = {"event": "try_on", "session_id": f"s{i}", "sku": "SKU-1", "ts": time.time()}
                await mirror.publish(f"{config.topic_prefix}/mirror/m1/events", json.dumps(body), qos=1)
                await asyncio.sleep(0.1)
        await eventually(lambda: landed(pg.url)[0] >= 3, within=60)
        stop.set()
        await task
        with psycopg.connect(pg.url) as conn:
            row = conn.execute(
                "SELECT store_id, agent_version, model_version, health->'links'->>'store-broker' FROM batches LIMIT 1"
            ).fetchone()
        assert row is not None and row[0] == config.store_id and row[1] and row[2]
        assert row[3] == "connected"
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        exposition = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        assert "fleet_batches_landed_total" in exposition
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
