"""A try-on at a mirror gets scored accessory suggestions back on the mirror's topic."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiomqtt

from edge_agent.catalog import import_offers
from edge_agent.config import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually


async def test_try_on_and_like_get_suggestions_dislikes_are_excluded(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = load_config(
        write_config(
            tmp_path / "a.yaml", data_dir=tmp_path / "d", mqtt={"url": mqtt_broker.url}, devices={"auto_register": True}
        )
    )
    offers = tmp_path / "offers.json"
    offers.write_text(
        json.dumps(
            [
                {
                    "offer_id": "o-belt",
                    "title": "Belt for the jeans",
                    "category": "accessories",
                    "kind": "accessory",
                    "skus": "JEANS-1",
                },
                {
                    "offer_id": "o-scarf",
                    "title": "Scarf",
                    "category": "accessories",
                    "kind": "accessory",
                    "skus": "COAT-9",
                },
                {"offer_id": "o-sale", "title": "10% off", "category": "shoes", "kind": "discount", "value": "10%"},
            ]
        )
    )
    conn = connect(config.db_path)
    import_offers(conn, offers)
    conn.close()
    agent = Agent(config, [mirror_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    received: list[dict[str, object]] = []
    base = f"{config.topic_prefix}/mirror/mirror-7"
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client:
        await client.subscribe(f"{base}/suggestions", qos=1)
        await eventually(lambda: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected")

        async def listen() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append(json.loads(message.payload))

        listener = asyncio.create_task(listen())
        now = time.time()
        for body in (
            {"event": "session_start", "session_id": "s1", "ts": now},
            {"event": "dislike", "session_id": "s1", "sku": "COAT-9", "ts": now},
            {"event": "try_on", "session_id": "s1", "sku": "JEANS-1", "ts": now},
        ):
            await client.publish(f"{base}/events", json.dumps(body), qos=1)
        await eventually(lambda: len(received) == 1)
        listener.cancel()
    stop.set()
    await task
    (payload,) = received
    assert payload["session_id"] == "s1" and payload["trigger"] == {"event": "try_on", "sku": "JEANS-1"}
    suggestions = payload["suggestions"]
    assert isinstance(suggestions, list)
    assert [s["offer_id"] for s in suggestions] == ["o-belt"]  # accessories only, the disliked coat's scarf left out
    assert suggestions[0]["reason"] == "tried it on, completes the look"
