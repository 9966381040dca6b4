"""Ingestion throughput: BLE adverts through decode + presence, and mirror events from a real
mosquitto into SQLite compared with a bare aiomqtt subscriber on the same broker and backlog.

    python bench/ingest.py [--quick]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.aggregation.rollup import Aggregator
from edge_agent.config.agent import AgentConfig, load_config
from edge_agent.core.stats import AgentStats
from edge_agent.presence.engine import PresenceEngine
from edge_agent.runtime import Agent
from edge_agent.runtime.pipeline import Pipeline
from edge_agent.runtime.ports import Ports
from edge_agent.scoring.policy import AlertPolicy
from edge_agent.scoring.rules import RuleScorer
from edge_agent.sim.adverts import ibeacon_advert
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import StoreWriter, connect
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def make_config(tmp: Path, **sections: object) -> AgentConfig:
    tmp.mkdir(parents=True, exist_ok=True)
    return load_config(write_config(tmp / "agent.yaml", data_dir=tmp / "data", **sections))


async def bench_adverts(tmp: Path, count: int, beacons: int = 1000) -> float:
    """Adverts per second through decode → presence on one core (no I/O on the hot path)."""
    config = make_config(tmp)
    reader = connect(config.db_path)
    now = time.time()
    adverts = [
        ibeacon_advert(
            f"{UUID}:{i // 256}:{i % 256}",
            rssi=-60 - (i % 20),
            ts=now,
            address=f"AA:BB:CC:DD:{i >> 8:02X}:{i & 255:02X}",
        )
        for i in range(beacons)
    ]
    async with running(StoreWriter(config.db_path)) as writer:
        ports = Ports(
            config,
            writer,
            AgentStats(),
            Aggregator(store_id="bench", bucket_s=3600, k_anonymity=5),
            alerts=lambda alert: None,
            suggestions=lambda item: None,
        )
        pipeline = Pipeline(
            ports,
            reader=reader,
            presence=PresenceEngine(config.presence, {"local": "entrance"}),
            policy=AlertPolicy(config.scoring, RuleScorer()),
        )
        for adv in adverts * 2:  # warm up: every beacon enters (two sightings make an entry)
            await pipeline.handle(adv, now)
        start = time.perf_counter()
        for i in range(count):
            await pipeline.handle(adverts[i % beacons], now)
        elapsed = time.perf_counter() - start
    reader.close()
    return count / elapsed


def publish_backlog(port: int, topic: str, count: int) -> None:
    """Queue `count` QoS 1 mirror events at the broker while the subscriber is away (in a
    subprocess, so the publisher's CPU and GIL never share the measured process)."""
    subprocess.run([sys.executable, __file__, "--publish", str(port), topic, str(count)], check=True)


def _publish(port: int, topic: str, count: int) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{random.random()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    now = time.time()
    infos = [
        client.publish(
            topic, json.dumps({"event": "try_on", "session_id": f"s{i}", "sku": f"SKU-{i % 50}", "ts": now}), qos=1
        )
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


async def bench_raw(broker: MosquittoBroker, topic: str, count: int) -> float:
    """A bare aiomqtt subscriber draining the same backlog (persistent session, QoS 1)."""
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-raw", clean_session=False) as c:
        await c.subscribe(topic, qos=1)
    await asyncio.to_thread(publish_backlog, broker.port, topic, count)
    start = time.perf_counter()
    received = 0
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-raw", clean_session=False) as c:
        async for _ in c.messages:
            received += 1
            if received == count:
                break
    return count / (time.perf_counter() - start)


def stored(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


class Progress:
    """Rows stored so far, cheaply: the newest rowid (the bench deletes nothing), on one connection.

    A COUNT(*) every 20 ms in the measured process would cost the agent several per cent."""

    def __init__(self, db: Path) -> None:
        self._db = db
        self._conn: sqlite3.Connection | None = None

    def __call__(self) -> int:
        if self._conn is None:
            if not self._db.exists():
                return 0
            self._conn = sqlite3.connect(self._db)
        return int(self._conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


async def bench_agent(tmp: Path, broker: MosquittoBroker, topic: str, count: int) -> float:
    """The agent draining the backlog into SQLite, acknowledging each message after commit."""
    config = make_config(tmp, mqtt={"url": broker.url}, devices={"auto_register": True}, ble={"remote_scanners": False})
    agent = Agent(config, [mirror_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))  # first run creates the persistent session
    await eventually(lambda: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected")
    stop.set()
    await task
    await asyncio.to_thread(publish_backlog, broker.port, topic, count)
    agent, stop = Agent(config, [mirror_source(config)]), asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(agent.run(stop))
    progress = Progress(config.db_path)
    await eventually(lambda: progress() >= count, within=300, every=0.02)
    elapsed = time.perf_counter() - start
    progress.close()
    stop.set()
    await task
    assert stored(config.db_path) == count, "every event stored exactly once"
    return count / elapsed


async def main(quick: bool) -> dict[str, object]:
    adverts = 20_000 if quick else 300_000
    events = 2_000 if quick else 20_000
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ble_rate = await bench_adverts(tmp / "ble", adverts)
        raw_rates, agent_rates = [], []
        for n in range(rounds):  # alternate, so that a noisy moment hits both sides alike
            with MosquittoBroker() as broker:
                raw_rates.append(await bench_raw(broker, "bench/raw/mirror/m1/events", events))
                agent_rates.append(
                    await bench_agent(tmp / f"mirror{n}", broker, "store/store-test/mirror/m1/events", events)
                )
        raw_rate, agent_rate = statistics.median(raw_rates), statistics.median(agent_rates)
    return {
        "ble_adverts_per_s": round(ble_rate),
        "mirror_events_per_s": round(agent_rate),
        "raw_aiomqtt_per_s": round(raw_rate),
        "mirror_vs_raw_ratio": round(agent_rate / raw_rate, 3),
        "ble_adverts": adverts,
        "ble_beacons": 1000,
        "mirror_events": events,
        "rounds": rounds,
        "raw_rates": [round(r) for r in raw_rates],
        "agent_rates": [round(r) for r in agent_rates],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    parser.add_argument("--publish", nargs=3, metavar=("PORT", "TOPIC", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        _publish(int(args.publish[0]), args.publish[1], int(args.publish[2]))
        sys.exit(0)
    print(json.dumps(asyncio.run(main(args.quick))))
