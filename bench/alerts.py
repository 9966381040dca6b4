"""Alert latency: from the advertisement that decided a known customer's entry to the alert
arriving at an MQTT subscriber, through the whole agent (presence, ONNX scoring, SQLite, broker).

    python bench/alerts.py [--quick]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_customers, import_offers
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import ibeacon_advert
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.base import SourceEvent
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.wait import eventually

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


class Arrivals(ScriptedSource):
    """Customers walking in one after another; remembers when each deciding advert was sent."""

    def __init__(self, customers: int, gap_s: float) -> None:
        super().__init__("bench-arrivals", self._play)
        self.customers = customers
        self.gap_s = gap_s
        self.decided: dict[int, float] = {}
        self.go = asyncio.Event()  # customers start arriving once the agent's MQTT link is up

    async def _play(self) -> AsyncIterator[SourceEvent]:
        await self.go.wait()
        for i in range(self.customers):
            for n in range(3):  # the third sighting is the one that decides the entry
                now = time.time()
                if n == 2:
                    self.decided[i] = now
                yield ibeacon_advert(
                    f"{UUID}:7:{i}", rssi=-62, ts=now, address=f"AA:00:00:00:{i >> 8:02X}:{i & 255:02X}"
                )
                await asyncio.sleep(0.02)
            await asyncio.sleep(self.gap_s)


async def main(quick: bool) -> dict[str, object]:
    customers = 30 if quick else 300
    with tempfile.TemporaryDirectory() as tmp_name, MosquittoBroker() as broker:
        tmp = Path(tmp_name)
        config = load_config(
            write_config(
                tmp / "agent.yaml", data_dir=tmp / "data", mqtt={"url": broker.url}, scoring={"holdout_pct": 0}
            )
        )
        (tmp / "c.json").write_text(
            json.dumps(
                [
                    {
                        "customer_id": f"c-{i}",
                        "display_name": f"Customer {i}",
                        "tier": "gold",
                        "consent": True,
                        "ibeacon": f"{UUID}:7:{i}",
                        "preferred_categories": "shoes",
                    }
                    for i in range(customers)
                ]
            )
        )
        (tmp / "o.json").write_text(
            json.dumps(
                [
                    {
                        "offer_id": f"o-{i}",
                        "title": f"Offer {i}",
                        "category": ["shoes", "bags", "outerwear"][i % 3],
                        "kind": ["discount", "accessory", "service", "event"][i % 4],
                        "value": "10%",
                    }
                    for i in range(64)
                ]
            )
        )
        conn = connect(config.db_path)
        import_customers(conn, tmp / "c.json")
        import_offers(conn, tmp / "o.json")
        conn.execute(
            "INSERT INTO devices(id, profile, transport, zone, created_at) "
            "VALUES ('m1', 'smart-mirror', 'mqtt', 'fitting-rooms', 0)"
        )
        conn.close()
        arrivals = Arrivals(customers, gap_s=0.05)
        received: dict[int, float] = {}
        sizes: dict[str, float] = {}
        sent: dict[str, float] = {}
        async with aiomqtt.Client("127.0.0.1", broker.port) as sub, aiomqtt.Client("127.0.0.1", broker.port) as mirror:
            await sub.subscribe(f"{config.topic_prefix}/alerts", qos=1)

            async def listen() -> None:
                async for message in sub.messages:
                    assert isinstance(message.payload, bytes)
                    alert = json.loads(message.payload)
                    if alert.get("kind") == "size_request":
                        sizes[alert["session_id"]] = time.time()
                    else:
                        received[int(alert["customer_id"][2:])] = time.time()

            listener = asyncio.create_task(listen())
            agent = Agent(config, [arrivals, mirror_source(config)])
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            await eventually(lambda: agent.ready.is_set() and agent.snapshot()["mqtt"]["state"] == "connected")
            await eventually(lambda: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected")
            arrivals.go.set()
            await eventually(lambda: len(received) == customers, within=120)
            for i in range(customers // 3):  # a shopper asks for another size; staff must hear at once
                body = {"event": "size_request", "session_id": f"s{i}", "sku": "COAT-1", "size": "M", "ts": time.time()}
                sent[f"s{i}"] = time.time()
                await mirror.publish(f"{config.topic_prefix}/mirror/m1/events", json.dumps(body), qos=1)
                await asyncio.sleep(0.05)
            await eventually(lambda: len(sizes) == len(sent), within=60)
            scorer = agent.runtime.scorer.status().body.get("model") if agent.runtime.scorer else None
            stop.set()
            await task
            listener.cancel()
        latencies = sorted((received[i] - arrivals.decided[i]) * 1000 for i in range(customers))
        size_latencies = sorted((sizes[k] - sent[k]) * 1000 for k in sent)
        return {
            "size_request_latency_ms_p50": round(statistics.median(size_latencies), 2),
            "size_request_latency_ms_p99": round(
                size_latencies[min(len(size_latencies) - 1, int(0.99 * len(size_latencies)))], 2
            ),
            "size_requests": len(size_latencies),
            "alert_latency_ms_p50": round(statistics.median(latencies), 2),
            "alert_latency_ms_p99": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
            "alert_latency_ms_max": round(latencies[-1], 2),
            "alerts": customers,
            "offers_scored_per_alert": 64,
            "scorer": scorer or "rules",
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    print(json.dumps(asyncio.run(main(parser.parse_args().quick))))
