"""SIGKILL the agent while it syncs, ten times: every batch still reaches the cloud."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config.agent import load_config
from edge_agent.runtime.control import query_status
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import StoreWriter, Write, connect
from edge_agent.testing.batches import metrics_of, valid_batch
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import wait_until

BATCHES = 1500


def fill(db: Path) -> None:
    async def run() -> None:
        async with running(StoreWriter(db)) as writer:
            await writer.write(
                *(
                    Write(
                        "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                        (f"b{i:05d}", float(i), json.dumps({"batch_id": f"b{i:05d}", "buckets": []}), 40),
                    )
                    for i in range(BATCHES)
                )
            )

    asyncio.run(run())


def test_sigkill_during_sync_ten_times_loses_nothing(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = write_config(
        tmp_path / "agent.yaml",
        data_dir=tmp_path / "data",
        mqtt={"url": "mqtt://127.0.0.1:1"},
        # Unpaced (1000/s, not the default 50/s): the kills are under test here, not the pacing.
        uplink={"kind": "mqtt", "url": mqtt_broker.url, "interval_s": 0.2, "max_publish_per_s": 1000},
    )
    db = tmp_path / "data" / "edge-agent.db"
    connect(db).close()
    fill(db)
    received: list[str] = []
    lock = threading.Lock()
    consumer = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud-consumer", clean_session=False)

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with lock:
            received.append(json.loads(message.payload)["batch_id"])

    consumer.on_message = on_message
    consumer.connect("127.0.0.1", mqtt_broker.port)
    consumer.subscribe("retail/store-test/aggregates", qos=1)
    consumer.loop_start()
    rng = random.Random(3)
    log = (tmp_path / "agent.log").open("ab")
    try:
        for cycle in range(10):
            agent = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            with lock:
                before = len(set(received))
            target = min(BATCHES, before + rng.randint(20, 120))
            wait_until(lambda: len(set(received)) >= target or agent.poll() is not None, within=60)  # noqa: B023
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait(10)
            assert agent.returncode == -signal.SIGKILL, f"cycle {cycle}: agent died on its own"
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=log
        )
        wait_until(lambda: len(set(received)) == BATCHES, within=120)
        wait_until(lambda: query_status(load_config(config).socket_path) is not None)  # fully up
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    finally:
        consumer.loop_stop()
        log.close()
    assert sorted(set(received)) == [f"b{i:05d}" for i in range(BATCHES)]
    # At-least-once: a kill re-sends what was confirmed but whose delete had not reached the
    # disk yet (the writer commits every 50 ms); the cloud drops those by batch_id. Never more.
    duplicates = len(received) - BATCHES
    assert duplicates < 10 * 100


BUCKETS, SKUS = 8, 300  # 300: as many label sets as a bucket keeps apart (MAX_LABEL_SETS)


def open_buckets(db: Path) -> dict[tuple[str, str], float]:
    """Buckets a previous run left open, each too large for one 4 KiB message; what they hold."""
    conn = connect(db)
    expected: dict[tuple[str, str], float] = {}
    with conn:
        for b in range(BUCKETS):
            for i in range(SKUS):
                labels = json.dumps({"sku": f"SKU-{i:05d}"}, sort_keys=True)
                conn.execute(
                    "INSERT INTO open_counts(bucket_start, name, labels, value) VALUES (?, 'mirror_try_ons', ?, ?)",
                    (1_700_000_000.0 + b * 3600, labels, float(b + i)),
                )
                expected[("mirror_try_ons", labels)] = expected.get(("mirror_try_ons", labels), 0) + b + i
    conn.close()
    return expected


def test_sigkill_between_the_parts_of_split_buckets_loses_nothing(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = write_config(
        tmp_path / "agent.yaml",
        data_dir=tmp_path / "data",
        mqtt={"url": "mqtt://127.0.0.1:1"},
        privacy={"k_anonymity": 1},
        uplink={"kind": "mqtt", "url": mqtt_broker.url, "interval_s": 0.2, "max_message_bytes": 4096},
    )
    db = tmp_path / "data" / "edge-agent.db"
    connect(db).close()
    expected = open_buckets(db)
    received: dict[str, bytes] = {}
    lock = threading.Lock()
    consumer = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud-parts", clean_session=False)

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with lock:
            received[json.loads(message.payload)["batch_id"]] = message.payload

    consumer.on_message = on_message
    consumer.connect("127.0.0.1", mqtt_broker.port)
    consumer.subscribe("retail/store-test/aggregates", qos=1)
    consumer.loop_start()
    rng = random.Random(5)
    log = (tmp_path / "agent.log").open("ab")
    command = [sys.executable, "-m", "edge_agent", "run", "--config", str(config)]
    try:
        for cycle in range(5):
            agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            with lock:
                target = len(received) + rng.randint(2, 8)
            wait_until(lambda: len(received) >= target or all_sent(db) or agent.poll() is not None, within=60)  # noqa: B023
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait(10)
            assert agent.returncode == -signal.SIGKILL, f"cycle {cycle}: agent died on its own"
        agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        wait_until(lambda: all_sent(db) and query_status(load_config(config).socket_path) is not None, within=120)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    finally:
        consumer.loop_stop()
        log.close()
    batches = [valid_batch(payload) for payload in received.values()]
    assert all(len(payload) <= 4096 for payload in received.values())
    groups: dict[str, set[int]] = {}
    for b in batches:
        groups.setdefault(b["group_id"], set()).add(b["part"])
        assert groups[b["group_id"]] <= set(range(1, b["parts"] + 1))
    assert len(groups) == BUCKETS and all(parts == set(range(1, len(parts) + 1)) for parts in groups.values())
    assert metrics_of(batches) == expected  # every count once: none lost, none twice


def all_sent(db: Path) -> bool:
    """Every bucket closed and every message confirmed by the cloud."""
    conn = connect(db)
    try:
        left = conn.execute("SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM open_counts)").fetchone()
        return bool(left[0] == 0)
    finally:
        conn.close()
