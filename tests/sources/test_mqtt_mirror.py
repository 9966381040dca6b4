"""Smart mirrors over MQTT against a real broker: stored once, acked after storing, resilient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from edge_agent.config.agent import AgentConfig, load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually


def make_config(tmp_path: Path, broker: MosquittoBroker, **sections: object) -> AgentConfig:
    return load_config(
        write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": broker.url}, **sections)
    )


def scalar(config: AgentConfig, sql: str, *args: object) -> int:
    conn = connect(config.db_path)
    try:
        value: int = conn.execute(sql, args).fetchone()[0]
        return value
    finally:
        conn.close()


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.ready.is_set() or task.done())
    # Ready is not subscribed: a mirror publishing before the source's first session stands is heard by nobody.
    await eventually(
        lambda: task.done() or agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected"
    )
    try:
        yield agent
    finally:
        stop.set()
        await task


NOW = time.time()


def iso_z(ts: float) -> str:
    """A timestamp as a mirror writes it, ISO-8601 in UTC with a `Z`, built from the clock."""
    return datetime.fromtimestamp(round(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(i: int, kind: str = "try_on", **extra: object) -> bytes:
    body = {"event": kind, "session_id": f"s-{i}", "sku": f"SKU-{i % 7}", "ts": round(NOW) + i, **extra}
    if kind in ("session_start", "session_end"):
        body.pop("sku")
    return json.dumps(body).encode()


async def publish(broker: MosquittoBroker, topic: str, payloads: list[bytes], client_id: str = "mirror-sim") -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=client_id) as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=1)


async def test_mirror_events_are_stored_counted_and_bad_ones_dead_lettered(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = make_config(tmp_path, mqtt_broker, devices={"auto_register": False})
    conn = connect(config.db_path)
    conn.execute(
        "INSERT INTO devices(id, profile, transport, created_at) VALUES ('mirror-1', 'smart-mirror', 'mqtt', 0)"
    )
    conn.close()
    topic = f"{config.topic_prefix}/mirror/mirror-1/events"
    now = time.time()
    good = [
        json.dumps({"event": "session_start", "session_id": "s1", "ts": now}).encode(),
        json.dumps({"event": "try_on", "session_id": "s1", "sku": "SKU-1", "ts": now}).encode(),
        json.dumps({"event": "like", "session_id": "s1", "sku": "SKU-1", "ts": iso_z(now)}).encode(),
    ]
    bad = {
        b"{not json": "bad_json",
        b"\xff\xfe{}": "bad_utf8",
        b"[" * 512 * 1024 + b"]" * 512 * 1024: "too_large",  # 1 MiB
        b'{"event": "try_on", "session_id": "s1", "sku": "x", "ts": NaN}': "bad_number",
        b'{"event": "teleport", "session_id": "s1"}': "unknown_event",
        b'{"event": "try_on", "session_id": 7, "sku": "x"}': "wrong_type",
        b'{"event": "try_on", "session_id": "s1"}': "missing_field",
        b'{"a":' * 30 + b"1" + b"}" * 30: "too_deep",
        b'{"event": "like", "session_id": "s1", "sku": "x", "ts": 99999999999}': "out_of_range",
    }
    async with running(Agent(config, [mirror_source(config)])):
        await publish(mqtt_broker, topic, [*good[:1], *bad, *good[1:]])
        await publish(mqtt_broker, f"{config.topic_prefix}/mirror/stranger/events", [good[0]])
        await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") == 3)
        await eventually(
            lambda: scalar(config, "SELECT COALESCE(SUM(count), 0) FROM dead_letter_counts") == len(bad) + 1
        )
    conn = connect(config.db_path)
    counts = dict(conn.execute("SELECT reason, count FROM dead_letter_counts WHERE device_id = 'mirror-1'").fetchall())
    assert counts == {reason: 1 for reason in bad.values()}
    assert conn.execute("SELECT reason FROM dead_letter_counts WHERE device_id = 'unknown'").fetchall() == [
        ("unknown_device",)
    ]
    samples = conn.execute("SELECT MAX(LENGTH(sample)) FROM dead_letters").fetchone()[0]
    assert samples <= 4096
    kinds = [json.loads(r[0])["event"] for r in conn.execute("SELECT payload FROM events ORDER BY id")]
    assert kinds == ["session_start", "try_on", "like"]


async def test_auto_register_accepts_unknown_mirrors(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, mqtt_broker, devices={"auto_register": True})
    async with running(Agent(config, [mirror_source(config)])):
        await publish(mqtt_broker, f"{config.topic_prefix}/mirror/new-mirror/events", [event(1, "session_start")])
        await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") == 1)
    assert scalar(config, "SELECT auto_registered FROM devices WHERE id = 'new-mirror'") == 1


async def test_broker_restart_mid_stream_loses_nothing(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = make_config(tmp_path, mqtt_broker, devices={"auto_register": True})
    topic = f"{config.topic_prefix}/mirror/m1/events"
    agent = Agent(config, [mirror_source(config)])
    async with running(agent):
        await publish(mqtt_broker, topic, [event(i) for i in range(200)])
        await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") >= 50)
        mqtt_broker.restart()
        await publish(mqtt_broker, topic, [event(i) for i in range(200, 400)])
        try:
            await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") == 400, within=40)
        except TimeoutError:
            print("COUNT", scalar(config, "SELECT COUNT(*) FROM events"), agent.snapshot())
            print(mqtt_broker.log()[-3000:])
            raise
        assert agent.snapshot()["sources"]["mqtt-mirror"]["state"] == "running"
    assert scalar(config, "SELECT COUNT(DISTINCT dedup_key) FROM events") == 400


async def test_an_event_without_ts_sent_twice_is_stored_once_as_received(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    """The de-duplication key is the payload as received, so a missing ts (filled with the
    time of arrival) cannot make a redelivery look new."""
    config = make_config(tmp_path, mqtt_broker, devices={"auto_register": True})
    topic = f"{config.topic_prefix}/mirror/mirror-1/events"
    payload = b'{"event": "try_on", "session_id": "s1", "sku": "SKU-1"}'
    async with running(Agent(config, [mirror_source(config)])) as agent:
        await publish(mqtt_broker, topic, [payload])
        await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") == 1)
        await publish(mqtt_broker, topic, [payload, event(1)])
        await eventually(lambda: agent.stats.device_events["mirror-1"] == 3)
        await eventually(lambda: scalar(config, "SELECT COUNT(*) FROM events") == 2)
    conn = connect(config.db_path)
    stored = [r[0] for r in conn.execute("SELECT payload FROM events ORDER BY id")]
    conn.close()
    assert stored == [payload.decode(), event(1).decode()]
