"""Drain a 7-day backlog (168 hourly batches: 6 zones, 200 SKUs, 20 sensors) over MQTT QoS 1
once the link returns; every batch is confirmed by the broker and deleted with a durable commit.

    python bench/sync.py [--quick]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiomqtt

from edge_agent.aggregation.rollup import Aggregator
from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import StoreWriter, Write, connect
from edge_agent.store.buckets import CountRow, OpenBucket, SensorRow
from edge_agent.testing.components import running
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually
from edge_agent.uplink.outbox import outbox_status

ZONES = ("entrance", "aisles", "shoes", "outerwear", "fitting-rooms", "checkout")


def hour_bucket(start: float, h: int) -> OpenBucket:
    """A busy store hour: every metric kind, with realistic label counts."""
    counts: list[tuple[str, tuple[tuple[str, str], ...], float]] = []
    for zone in ZONES:
        for le in ("60", "300", "900", "1800", "3600", "+Inf"):
            counts.append(("dwell_seconds_bucket", (("le", le), ("zone", zone)), 10 + h % 7))
    counts.append(("alerts_sent", (), 12))
    for action in ("ack", "accepted", "dismissed"):
        counts.append(("alert_actions", (("action", action),), 5))
    for o in range(40):
        for group in ("treatment", "holdout"):
            counts.append(("offers_shown", (("group", group), ("offer_id", f"o-{o}")), 6))
            counts.append(("offers_accepted", (("group", group), ("offer_id", f"o-{o}")), 5))
    for s in range(200):
        counts.append(("mirror_try_ons", (("sku", f"SKU-{s:03d}"),), 5 + s % 3))
        counts.append(("mirror_likes", (("sku", f"SKU-{s:03d}"),), 5))
    sensors = [
        SensorRow((("device", f"sensor-{d:02d}"), ("resource", "temperature")), 18.0, 21.0 * 60, 24.0, 60)
        for d in range(20)
    ]
    visitors = {kind: 20 + h % 40 for kind in ("known", "anonymous")}
    # as many distinct people stand behind each count as it counts (k-anonymity keeps them all)
    support = {(name, labels): max(5, int(value)) for name, labels, value in counts}
    return OpenBucket(start, [CountRow(*c) for c in counts], visitors, sensors, support)


async def main(quick: bool) -> dict[str, object]:
    hours = 24 if quick else 168
    with tempfile.TemporaryDirectory() as tmp_name, MosquittoBroker() as cloud:
        tmp = Path(tmp_name)
        config = load_config(
            write_config(
                tmp / "agent.yaml",
                data_dir=tmp / "data",
                mqtt={"url": "mqtt://127.0.0.1:1"},
                uplink={"kind": "mqtt", "url": cloud.url, "interval_s": 60},
            )
        )
        connect(config.db_path).close()
        start = time.time() - hours * 3600
        async with running(StoreWriter(config.db_path)) as writer:
            writes = []
            aggregator = Aggregator(store_id=config.store_id, bucket_s=3600, k_anonymity=5)
            for h in range(hours):
                batch = aggregator.render(hour_bucket(start + h * 3600, h))
                writes += [
                    Write(
                        "INSERT INTO outbox(batch_id, created_at, payload, size) VALUES (?, ?, ?, ?)",
                        (batch_id, batch.end, payload, len(payload)),
                    )
                    for batch_id, payload in batch.messages
                ]
            await writer.write(*writes)
        backlog = outbox_status(connect(config.db_path))
        received: set[str] = set()
        async with aiomqtt.Client("127.0.0.1", cloud.port, identifier="cloud") as consumer:
            await consumer.subscribe(f"retail/{config.store_id}/aggregates", qos=1)

            async def listen() -> None:
                async for message in consumer.messages:
                    assert isinstance(message.payload, bytes)
                    received.add(json.loads(message.payload)["batch_id"])

            listener = asyncio.create_task(listen())
            agent = Agent(config, [])
            stop = asyncio.Event()
            reader = connect(config.db_path)
            began = time.perf_counter()
            task = asyncio.create_task(agent.run(stop))
            await eventually(lambda: len(received) == hours, within=300, every=0.02)
            drain = time.perf_counter() - began
            await eventually(lambda: outbox_status(reader)["backlog"] == 0)
            stop.set()
            await task
            listener.cancel()
    return {
        "batches": hours,
        "drain_s": round(drain, 2),
        "batches_per_s": round(hours / drain, 1),
        "backlog_bytes": backlog["backlog_bytes"],
        "metrics_per_batch": len(
            Aggregator(store_id="s", bucket_s=3600, k_anonymity=5).render(hour_bucket(0, 0)).metrics
        ),
        "received_by_cloud": len(received),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    print(json.dumps(asyncio.run(main(parser.parse_args().quick))))
