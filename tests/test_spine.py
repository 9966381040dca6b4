"""The thin, real spine: simulated BLE → iBeacon → presence → alert on a real broker →
aggregate row → outbox row."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from edge_agent import __version__
from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_customers, import_offers
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.batches import valid_batch
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
ADA = f"{UUID}:100:1"
BOB = f"{UUID}:100:2"  # known, but did not consent
STRANGER = f"{UUID}:999:9"


def seed(db: Path, tmp: Path) -> None:
    customers = tmp / "customers.json"
    customers.write_text(
        json.dumps(
            [
                {
                    "customer_id": "c-ada",
                    "display_name": "Ada L.",
                    "tier": "gold",
                    "consent": True,
                    "ibeacon": ADA,
                    "preferred_categories": "shoes",
                },
                {"customer_id": "c-bob", "display_name": "Bob", "tier": "gold", "consent": False, "ibeacon": BOB},
            ]
        )
    )
    offers = tmp / "offers.csv"
    offers.write_text(
        "offer_id,title,category,kind\no-shoes,15% off shoes,shoes,discount\no-scarf,Scarf,accessories,accessory\n"
    )
    conn = connect(db)
    assert import_customers(conn, customers).ok
    assert import_offers(conn, offers).ok
    conn.close()


def aggregated(db: Path, name: str) -> bool:
    conn = connect(db)
    try:
        return bool(conn.execute("SELECT COUNT(*) FROM aggregates WHERE name = ?", (name,)).fetchone()[0])
    finally:
        conn.close()


async def test_known_customer_entering_reaches_broker_store_aggregates_and_outbox(
    tmp_path: Path, data_dir: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=data_dir,
            mqtt={"url": mqtt_broker.url},
            aggregates={"bucket_s": 2},
            scoring={"holdout_pct": 0},
        )
    )
    seed(config.db_path, tmp_path)
    agent = Agent(config, [SimulatedBleSource(arrivals(BOB, STRANGER, ADA, gap_s=0.3, stay_s=3), speed=1)])
    received: list[dict[str, object]] = []
    stop = asyncio.Event()

    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port, identifier="spine-test") as sub:
        await sub.subscribe(f"{config.topic_prefix}/alerts", qos=1)

        async def listen() -> None:
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                received.append(json.loads(message.payload))

        listener = asyncio.create_task(listen())
        run = asyncio.create_task(agent.run(stop))
        await eventually(lambda: len(received) >= 1)
        # Ada entered last, so once her alert is in a closed bucket, everyone's entry is.
        await eventually(lambda: aggregated(config.db_path, "alerts_sent"))
        stop.set()
        await run
        listener.cancel()

    (alert,) = received
    assert alert["customer_id"] == "c-ada" and alert["display_name"] == "Ada L."
    assert alert["tier"] == "gold" and alert["zone"] == "entrance"
    assert set(alert) == {"alert_id", "ts", "customer_id", "display_name", "tier", "zone", "offers", "hints"}
    assert alert["hints"] == [
        {"kind": "first_visit", "text": "First visit to this store — a warm welcome goes a long way"}
    ]
    offers = alert["offers"]
    assert isinstance(offers, list) and offers[0]["offer_id"] == "o-shoes" and "likes shoes" in offers[0]["reason"]

    db = connect(config.db_path)
    assert db.execute("SELECT alert_id, customer_id FROM alerts").fetchall() == [(alert["alert_id"], "c-ada")]
    assert db.execute("SELECT customer_id FROM visits").fetchall() == [("c-ada",)]
    names = {r[0] for r in db.execute("SELECT name FROM aggregates")}
    assert {"footfall_visitors", "alerts_sent", "offers_shown"} <= names
    payloads = [valid_batch(r[0]) for r in db.execute("SELECT payload FROM outbox ORDER BY seq")]
    metrics = [m for p in payloads for b in p["buckets"] for m in b["metrics"]]
    footfall = {m["labels"]["kind"]: 0 for m in metrics if m["name"] == "footfall_visitors"}
    for m in metrics:
        if m["name"] == "footfall_visitors":
            footfall[m["labels"]["kind"]] += m["value"]
    assert footfall == {"known": 1, "anonymous": 2}  # Bob did not consent: counted, not recognised
    for batch in payloads:  # every batch tells operations about its box (schema-checked above)
        assert batch["agent_version"] == __version__ and batch["model_version"]
        assert batch["health"]["store_writable"] is True and batch["health"]["links"]["store-broker"] == "connected"
    text = json.dumps(payloads)
    for secret in ("c-ada", "Ada", "c-bob", UUID, "AA:BB:CC"):
        assert secret not in text
