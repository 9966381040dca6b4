"""A try-on at a mirror gets scored accessory suggestions back on the mirror's topic."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiomqtt

from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_offers
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import mirror_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent
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


async def test_a_disliked_category_is_not_suggested_back_in_the_session(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    """docs/interface.md: after a disliked scarf, no accessory of that category, and no also-liked item of it."""
    config = load_config(
        write_config(
            tmp_path / "a.yaml",
            data_dir=tmp_path / "d",
            mqtt={"url": mqtt_broker.url},
            devices={"auto_register": True},
            learning={"min_support": 1},
        )
    )
    (tmp_path / "offers.json").write_text(
        json.dumps(
            [
                {
                    "offer_id": "o-belt",
                    "title": "Belt",
                    "category": "accessories",
                    "kind": "accessory",
                    "skus": "JEANS-1",
                },
                {"offer_id": "o-bag", "title": "Tote", "category": "bags", "kind": "accessory", "skus": "JEANS-1"},
            ]
        )
    )
    (tmp_path / "products.json").write_text(
        json.dumps(
            [
                {"sku": "SCARF-2", "title": "Silk scarf", "category": "accessories"},
                {"sku": "BELT-1", "title": "Leather belt", "category": "accessories"},
                {"sku": "TOTE-1", "title": "Canvas tote", "category": "bags"},
                {"sku": "JEANS-1", "title": "Jeans", "category": "denim"},
            ]
        )
    )
    from edge_agent.field.imports import import_products

    conn = connect(config.db_path)
    import_offers(conn, tmp_path / "offers.json")
    import_products(conn, tmp_path / "products.json")
    for n, other in enumerate(("BELT-1", "TOTE-1")):  # earlier sessions: jeans liked with a belt and with a tote
        conn.execute(
            "INSERT INTO cooccurrence(source, a, b, ts) VALUES (?, ?, ?, ?)",
            (f"m:{n}", *sorted(("JEANS-1", other)), time.time()),
        )
    conn.close()
    received: list[dict[str, object]] = []
    base = f"{config.topic_prefix}/mirror/mirror-7"
    async with (
        running_agent(Agent(config, [mirror_source(config)])) as agent,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as client,
    ):
        await client.subscribe(f"{base}/suggestions", qos=1)
        await eventually(lambda: agent.snapshot()["sources"].get("mqtt-mirror", {}).get("link") == "connected")
        now = time.time()
        for body in (
            {"event": "dislike", "session_id": "s1", "sku": "SCARF-2", "ts": now},
            {"event": "try_on", "session_id": "s1", "sku": "JEANS-1", "ts": now},
        ):
            await client.publish(f"{base}/events", json.dumps(body), qos=1)
        async with asyncio.timeout(20):
            message = await anext(client.messages)
        received.append(json.loads(message.payload))
    (payload,) = received
    assert [s["offer_id"] for s in payload["suggestions"]] == ["o-bag"]  # type: ignore[union-attr]
    assert [a["sku"] for a in payload["also_liked"]] == ["TOTE-1"]  # type: ignore[union-attr]
