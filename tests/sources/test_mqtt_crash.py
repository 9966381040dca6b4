"""SIGKILL the agent in the middle of a QoS 1 burst: every event is stored exactly once.

Inbound messages are acknowledged only after they are committed, and the session is persistent,
so whatever the agent had not committed is redelivered by the broker after the restart.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config.agent import load_config
from edge_agent.runtime.control import query_status
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import wait_until

BURST = 3000


def count(db: Path) -> tuple[int, int]:
    if not db.exists():
        return 0, 0
    conn = connect(db)
    try:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT payload) FROM events").fetchone()
        return total, distinct
    finally:
        conn.close()


def mirror_link(config: Path) -> str | None:
    snapshot = query_status(load_config(config).socket_path)
    return None if snapshot is None else snapshot["sources"].get("mqtt-mirror", {}).get("link")


def start_agent(config: Path) -> subprocess.Popen[bytes]:
    with (config.parent / "agent.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=log
        )


def publish_burst(broker: MosquittoBroker, topic: str, done: threading.Event) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="mirror-burst")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    now = time.time()
    infos = [
        client.publish(topic, json.dumps({"event": "try_on", "session_id": f"s{i}", "sku": "SKU-1", "ts": now}), qos=1)
        for i in range(BURST)
    ]
    for info in infos:
        info.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()
    done.set()


def test_sigkill_mid_burst_loses_nothing_and_stores_nothing_twice(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = write_config(
        tmp_path / "agent.yaml",
        data_dir=tmp_path / "data",
        mqtt={"url": mqtt_broker.url},
        devices={"auto_register": True},
        ble={"remote_scanners": False},
    )
    db = tmp_path / "data" / "edge-agent.db"
    agent = start_agent(config)
    try:
        # The persistent session exists once the agent has subscribed.
        wait_until(lambda: mirror_link(config) == "connected")
        done = threading.Event()
        publisher = threading.Thread(
            target=publish_burst, args=(mqtt_broker, "store/store-test/mirror/m1/events", done)
        )
        publisher.start()
        wait_until(lambda: count(db)[0] >= 300)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        killed_at = count(db)[0]
        assert killed_at < BURST, "the burst ended before the kill; nothing was tested"
        publisher.join(60)
        assert done.is_set()
        agent = start_agent(config)
        wait_until(lambda: count(db)[0] >= BURST, within=60)
        total, distinct = count(db)
        assert (total, distinct) == (BURST, BURST)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.send_signal(signal.SIGUSR1)  # the agent writes every task's stack to its log
            time.sleep(1)
            agent.kill()
            print((tmp_path / "agent.log").read_text()[-8000:])
            raise
