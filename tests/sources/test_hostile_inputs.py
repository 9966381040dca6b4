"""Hostile and careless senders on the store broker: one bad message never stops a device, invented
ids cannot exhaust the box, a noisy device degrades only itself, and every drop is counted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiomqtt
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.config.agent import AgentConfig, load_config
from edge_agent.runtime import Agent
from edge_agent.runtime.report import samples
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source, remote_scanner_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent
from edge_agent.testing.wait import eventually
from edge_agent.web.metrics import render

MFG = "4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5"


def make_config(tmp_path: Path, broker: MosquittoBroker, **sections: object) -> AgentConfig:
    config = load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=tmp_path / "data",
            mqtt={"url": broker.url},
            zones=[{"id": "entrance", "scanners": ["scanner-1", "scanner-2"]}],
            **sections,
        )
    )
    conn = connect(config.db_path)
    for mirror in ("mirror-1", "mirror-2"):
        conn.execute(
            "INSERT INTO devices(id, profile, transport, created_at) VALUES (?, 'smart-mirror', 'mqtt', 0)", (mirror,)
        )
    conn.close()
    return config


def stored(config: AgentConfig, device: str) -> int:
    conn = connect(config.db_path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE device_id = ?", (device,)).fetchone()[0])
    finally:
        conn.close()


def event(session: str, i: int = 0) -> bytes:
    return json.dumps({"event": "try_on", "session_id": session, "sku": f"SKU-{i}", "ts": time.time()}).encode()


async def test_poison_messages_on_every_mqtt_input_are_dead_letters_and_the_sources_keep_going(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = make_config(tmp_path, mqtt_broker)
    prefix = config.topic_prefix
    poison = [
        b'{"event":"session_start","session_id":"p","ts":1' + b"0" * 400 + b"}",
        b'{"event":"session_start","session_id":"p","ts":1' + b"0" * 5000 + b"}",
        b'{"event":"try_on","session_id":"p","sku":"x","ts":1e400}',
    ]
    scanner_poison = [
        b'{"id":"AA:BB:CC:DD:EE:FF","rssi":1e400}',
        b'{"id":"AA:BB:CC:DD:EE:FF","rssi":1' + b"0" * 400 + b"}",
    ]
    sources = [mirror_source(config), remote_scanner_source(config)]
    async with running_agent(Agent(config, sources)) as agent, aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-ble-scanners"]["link"] == "connected")
        for payload in poison:
            await pub.publish(f"{prefix}/mirror/mirror-1/events", payload, qos=1)
        for payload in scanner_poison:
            await pub.publish("home/scanner-1/BTtoMQTT/AABBCCDDEEFF", payload)
        await pub.publish(f"{prefix}/mirror/mirror-2/events", event("good"), qos=1)
        advert = {"id": "AA:BB:CC:DD:EE:FF", "rssi": -60, "manufacturerdata": MFG}
        await pub.publish("home/scanner-2/BTtoMQTT/AABBCCDDEEFF", json.dumps(advert))
        await eventually(lambda: stored(config, "mirror-2") == 1)
        await eventually(lambda: agent.stats.device_events["scanner-2"] == 1)
        await eventually(lambda: sum(agent.stats.dead_letters.values()) == len(poison) + len(scanner_poison))
        sources_status = agent.snapshot()["sources"]
    assert sources_status["mqtt-mirror"]["restarts"] == 0 and sources_status["mqtt-ble-scanners"]["restarts"] == 0
    assert agent.stats.dead_letters[("mirror-1", "bad_number")] == 3
    assert agent.stats.dead_letters[("scanner-1", "bad_number")] == 2


async def test_invented_device_ids_fold_into_one_bounded_unknown(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, mqtt_broker)
    prefix = config.topic_prefix
    invented = 2000
    async with running_agent(Agent(config, [mirror_source(config), remote_scanner_source(config)])) as agent:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
            # Not interleaved: a QoS 0 write before each QoS 1 one meets Nagle and delayed ACKs (40 ms each).
            for i in range(invented):
                await pub.publish(f"{prefix}/mirror/fake-{i}/events", event(f"s{i}"), qos=1)
            for i in range(invented):
                await pub.publish(f"home/fake-scanner-{i}/BTtoMQTT/x", b"{not json")
        await eventually(lambda: sum(agent.stats.dead_letters.values()) == 2 * invented, within=60)
        metrics = render(lambda: samples(agent.statuses()))
    assert set(agent.stats.dead_letters) == {("unknown", "unknown_device"), ("unknown", "bad_json")}
    assert b"fake-" not in metrics and len(metrics) < 20_000
    families = {f.name: f for f in text_string_to_metric_families(metrics.decode())}
    dead = {tuple(s.labels.values()): s.value for s in families["edge_agent_dead_letters"].samples}
    assert dead == {("unknown", "unknown_device"): invented, ("unknown", "bad_json"): invented}
    conn = connect(config.db_path)
    assert conn.execute("SELECT COUNT(*) FROM dead_letter_counts").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0] <= 40  # 20 samples per reason
    labels = {r[0] for r in conn.execute("SELECT labels FROM open_counts WHERE name = 'dead_letters'")}
    assert all("fake-" not in label for label in labels) and len(labels) == 2


async def test_a_noisy_mirror_is_counted_over_its_budget_and_loses_nothing(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = make_config(tmp_path, mqtt_broker, devices={"rate_per_s": 20, "burst": 100})
    prefix = config.topic_prefix
    async with running_agent(Agent(config, [mirror_source(config)])) as agent:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-mirror"]["link"] == "connected")
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, max_inflight_messages=1000) as pub:
            for i in range(3000):
                await pub.publish(f"{prefix}/mirror/mirror-1/events", event(f"n{i}", i), qos=1)
                if i == 1000:
                    await pub.publish(f"{prefix}/mirror/mirror-2/events", event("quiet"), qos=1)
        await eventually(lambda: stored(config, "mirror-2") == 1)
        await eventually(lambda: stored(config, "mirror-1") == 3000, within=60)  # a backlog is never shed
        metrics = render(lambda: samples(agent.statuses())).decode()
    assert agent.stats.over_rate["mirror-1"] > 2000  # a burst of 100, then 20/s
    assert agent.stats.over_rate["mirror-2"] == 0
    assert 'edge_agent_device_over_rate_total{device="mirror-1"}' in metrics


def publish_qos0(port: int, topic: str, count: int) -> None:
    """From its own process, as fast as paho can."""
    code = f"""
import json, paho.mqtt.client as m
from paho.mqtt.enums import CallbackAPIVersion
c = m.Client(CallbackAPIVersion.VERSION2); c.connect("127.0.0.1", {port}); c.loop_start()
body = json.dumps({{"id": "AA:BB:CC:DD:EE:01", "rssi": -60, "manufacturerdata": "{MFG}"}})
infos = [c.publish("{topic}", body, qos=0) for _ in range({count})]
for i in infos: i.wait_for_publish(60)
c.loop_stop(); c.disconnect()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_a_qos0_scanner_flood_counts_every_drop(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, mqtt_broker)
    scanners = remote_scanner_source(config)
    scanners._max_queued = 50  # a tiny client queue, so the flood overflows it for sure
    published = 30_000
    async with running_agent(Agent(config, [scanners])) as agent:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-ble-scanners"]["link"] == "connected")
        await asyncio.to_thread(publish_qos0, mqtt_broker.port, "home/scanner-1/BTtoMQTT/AABBCCDDEE01", published)

        def accounted() -> int:
            source = agent.snapshot()["sources"]["mqtt-ble-scanners"]
            return int(source["events"] + source["dropped"])

        await eventually(lambda: accounted() == published, within=60)
        snapshot = agent.snapshot()
        metrics = render(lambda: samples(agent.statuses())).decode()
    assert snapshot["sources"]["mqtt-ble-scanners"]["dropped"] > 0
    assert 'edge_agent_source_dropped_total{source="mqtt-ble-scanners"}' in metrics


async def test_dead_letter_samples_from_ble_scanners_carry_no_mac_or_name(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = make_config(tmp_path, mqtt_broker)
    async with running_agent(Agent(config, [remote_scanner_source(config)])) as agent:
        await eventually(lambda: agent.snapshot()["sources"]["mqtt-ble-scanners"]["link"] == "connected")
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
            bad = {"id": "11:22:33:44:55:66", "name": "Zelda iPhone", "rssi": "loud"}
            await pub.publish("home/scanner-1/BTtoMQTT/112233445566", json.dumps(bad))
        await eventually(lambda: sum(agent.stats.dead_letters.values()) == 1)
    conn = connect(config.db_path)
    (sample,) = conn.execute("SELECT sample FROM dead_letters").fetchone()
    assert b"11:22:33:44:55:66" not in sample and b"Zelda" not in sample
    assert b'"rssi": "loud"' in sample  # the evidence itself stays
