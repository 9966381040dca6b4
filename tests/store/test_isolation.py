"""A writer that isolates any failure: one input's bad effects are that input's failure, never the
writer's; a bucket that cannot be rendered is quarantined and the rest of the store goes on."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import aiomqtt
import pytest

from edge_agent.aggregation.rollup import Aggregator
from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import Effects, StoreWriter, Write, connect
from edge_agent.store.buckets import OpenBucket
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually


class Explodes:
    """An operation whose domain code raises inside the transaction (a bug, a poison value)."""

    def apply(self, conn: sqlite3.Connection) -> None:
        raise ValueError("cannot apply this")


def insert(n: int) -> Write:
    return Write("INSERT INTO dead_letter_counts(device_id, reason, count, last_ts) VALUES (?, 'x', 1, 0)", (f"d{n}",))


async def test_an_operation_that_raises_fails_its_input_alone_and_the_writer_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "edge-agent.db"
    connect(db).close()
    acks: list[tuple[int, bool]] = []
    async with running(StoreWriter(db, max_delay_s=0.2)) as writer:
        for n in range(5):
            ops = (Explodes(),) if n == 2 else ()
            await writer.apply(
                Effects(writes=(insert(n),), ops=ops, on_commit=lambda fresh, n=n: acks.append((n, fresh)))
            )
        await eventually(lambda: len(acks) == 5)
        await writer.write(insert(99))  # and it still takes inputs
    assert sorted(acks) == [(0, True), (1, True), (2, False), (3, True), (4, True)]  # acked, nothing emitted
    conn = connect(db)
    devices = {r[0] for r in conn.execute("SELECT device_id FROM dead_letter_counts WHERE reason = 'x'")}
    assert devices == {"d0", "d1", "d3", "d4", "d99"}  # input 2 stored nothing of its own
    (reason,) = conn.execute("SELECT detail FROM dead_letters WHERE reason = 'unstorable'").fetchone()
    assert "ValueError: cannot apply this" in reason


def poison_render(self: Aggregator, bucket: OpenBucket) -> object:
    raise ValueError(f"bucket {bucket.start} is poison")


async def mirror_events(broker: MosquittoBroker, topic: str, n: int, first: int) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for i in range(first, first + n):
            body = {"event": "try_on", "session_id": f"s{i}", "sku": "SKU-1", "ts": time.time()}
            await client.publish(topic, json.dumps(body), qos=1)
            if i % 100 == 0:
                await asyncio.sleep(0.2)  # spread over several one-second buckets


def stored(db: Path) -> int:
    conn = connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


async def test_a_bucket_that_never_renders_is_quarantined_and_every_event_is_still_acknowledged(
    tmp_path: Path, mqtt_broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Aggregator, "render", poison_render)
    config = load_config(
        write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": mqtt_broker.url},
            aggregates={"bucket_s": 1}, devices={"auto_register": True}, ble={"remote_scanners": False},
        )
    )  # fmt: skip
    topic = f"{config.topic_prefix}/mirror/m1/events"
    total = 0
    for run, events in enumerate((1000, 200)):  # and again after a restart, the poison still there
        agent = Agent(config, [mirror_source(config)])
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await eventually(
            lambda agent=agent: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected"
        )  # type: ignore[misc]
        await mirror_events(mqtt_broker, topic, events, total)
        total += events
        await eventually(lambda total=total: stored(config.db_path) == total, within=60)  # type: ignore[misc]
        await eventually(lambda agent=agent: agent.snapshot()["store"]["state"] == "writable")  # type: ignore[misc]
        stop.set()
        await task
        conn = connect(config.db_path)
        quarantined = conn.execute("SELECT COUNT(*), MIN(reason) FROM quarantined_buckets").fetchone()
        conn.close()
        assert quarantined[0] >= 1 + run and "poison" in quarantined[1]
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier=f"edge-agent-{config.store_id}-mirror",
                              clean_session=False) as session:  # fmt: skip
        await session.subscribe(topic, qos=1)
        with pytest.raises(TimeoutError):  # every event was acknowledged: the broker holds nothing back
            async with asyncio.timeout(1.0):
                await anext(aiter(session.messages))
