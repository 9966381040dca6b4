"""A friend's vote, once acknowledged, is never lost or counted twice — proved with SIGKILLs."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config.agent import load_config
from edge_agent.core.events import Device
from edge_agent.field.devices import add_device
from edge_agent.field.imports import import_products
from edge_agent.sim.broker import MosquittoBroker, free_port
from edge_agent.social.remote import signed_vote
from edge_agent.store import connect
from edge_agent.store.effects import open_counts
from edge_agent.store.outbox import outbox_status
from edge_agent.testing.config import write_config
from edge_agent.testing.crash import CloudConsumer, _agent, open_session
from edge_agent.testing.wait import wait_until

VOTES, KILLS, SEATS = 120, 4, 8


def publish_votes(port: int, topic: str, look_id: str, key: str, base_ts: float) -> None:
    """The relay's side: QoS 1 signed votes, each confirmed by the broker (the agent may be dead)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="relay-test")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for i in range(VOTES):
        # a seat votes every SEATS seconds of vote time: never too fast for the one-per-second rule
        vote = signed_vote(look_id, key, f"v-{i}", f"s{i % SEATS}", "COAT-1", "up" if i % 3 else "down", base_ts + i)
        infos.append(client.publish(topic, json.dumps(vote), qos=1))
        time.sleep(0.02)
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def retained_card(port: int, topic: str) -> dict[str, Any]:
    got: list[dict[str, Any]] = []
    done = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.payload:
            got.append(json.loads(message.payload))
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="card-reader")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        wait_until(done.is_set, within=60)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0]


@pytest.mark.timeout(240)
def test_votes_survive_sigkills_exactly_once(tmp_path: Path) -> None:
    with MosquittoBroker() as broker:
        path = write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": broker.url}, http={"port": free_port()},
            uplink={"kind": "mqtt", "url": broker.url, "interval_s": 0.5, "downlink": False},
            aggregates={"bucket_s": 2}, privacy={"k_anonymity": 1}, social={"remote_url": "https://relay.example"},
        )  # fmt: skip
        config = load_config(path)
        conn = connect(config.db_path)
        add_device(conn, Device("mirror-1", "smart-mirror", "mqtt", zone="fitting-rooms"))
        (tmp_path / "products.json").write_text(json.dumps([{"sku": "COAT-1", "title": "Wool coat"}]))
        import_products(conn, tmp_path / "products.json")
        conn.close()
        votes_topic = f"retail/{config.store_id}/social/votes"
        open_session(broker.port, f"edge-agent-{config.store_id}-votes", f"{votes_topic}/+")
        open_session(broker.port, f"edge-agent-{config.store_id}-mirror", f"{config.topic_prefix}/mirror/+/events")
        consumer = CloudConsumer(broker.port, f"retail/{config.store_id}/aggregates")
        consumer.start()
        sharer = paho.Client(CallbackAPIVersion.VERSION2, client_id="mirror-1")
        sharer.connect("127.0.0.1", broker.port)
        sharer.loop_start()
        for event in ({"event": "try_on", "sku": "COAT-1"}, {"event": "share_start", "circle": "remote"}):
            body = json.dumps({**event, "session_id": "k1", "ts": time.time()})
            sharer.publish(f"{config.topic_prefix}/mirror/mirror-1/events", body, qos=1).wait_for_publish(10)
        sharer.loop_stop()
        rng = random.Random(29)
        with (tmp_path / "agent.log").open("ab") as log:
            agent = _agent(path, log)
            try:
                card = retained_card(broker.port, f"retail/{config.store_id}/social/looks/+")
                look_id, key = card["look_id"], card["key"]
                args = (broker.port, f"{votes_topic}/{look_id}", look_id, key, time.time())
                relay = threading.Thread(target=publish_votes, args=args, daemon=True)
                relay.start()
                for _ in range(KILLS):
                    time.sleep(rng.uniform(0.3, 1.5))
                    os.kill(agent.pid, signal.SIGKILL)
                    agent.wait(10)
                    agent = _agent(path, log)
                relay.join(120)
                wait_until(lambda: _drained(config.db_path, VOTES), within=120)
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(20)
                consumer.stop()
    conn = connect(config.db_path)
    stored = conn.execute("SELECT count(*), count(DISTINCT vote_id) FROM social_votes").fetchone()
    assert stored == (VOTES, VOTES)
    counted = sum(
        int(metric["value"])
        for batch in consumer.batches.values()
        for bucket in batch["buckets"]
        for metric in bucket["metrics"]
        if metric["name"] == "social_votes"
    )
    assert counted == VOTES  # every vote counted once in the batches the cloud received


def _drained(db: Path, votes: int) -> bool:
    conn = connect(db, readonly=True)
    try:
        stored = conn.execute("SELECT count(*) FROM social_votes").fetchone()[0]
        return stored == votes and not open_counts(conn) and outbox_status(conn)["backlog"] == 0
    finally:
        conn.close()
