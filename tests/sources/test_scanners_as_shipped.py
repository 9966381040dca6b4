"""Scanners with their default settings, over a real broker: decoded Theengs / OpenMQTTGateway
messages and ESPresense rooms recognise customers exactly as raw frames do (third-party corpus)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiomqtt

from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_customers
from edge_agent.runtime import Agent
from edge_agent.runtime.presence import SAME_SIGHTING_S
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import remote_scanner_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

CORPUS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "third_party_adverts.json").read_text())
MESSAGES = CORPUS["messages"]


def scanner_of(message: dict[str, Any]) -> str:
    levels = message["topic"].split("/")
    return levels[-1] if message["scanner"] == "espresense" else levels[1]


def customers_for(identifiers: list[str]) -> str:
    rows = [f"c-{n},Customer {n},true,{identifier}" for n, identifier in enumerate(identifiers)]
    return "customer_id,display_name,consent,ibeacon\n" + "\n".join(rows) + "\n"


async def test_every_scanner_message_in_the_corpus_recognises_its_customer(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    scanners = sorted({scanner_of(m) for m in MESSAGES})
    identifiers = sorted({m["identifier"] for m in MESSAGES if m["kind"] == "ibeacon"})
    config = load_config(
        write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": mqtt_broker.url},
            zones=[{"id": "floor", "scanners": scanners}], scoring={"holdout_pct": 0},
            presence={"enter_rssi": -110},
        )
    )  # fmt: skip
    (tmp_path / "c.csv").write_text(customers_for(identifiers))
    conn = connect(config.db_path)
    import_customers(conn, tmp_path / "c.csv")
    agent = Agent(config, [remote_scanner_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.snapshot()["sources"].get("mqtt-ble-scanners", {}).get("link") == "connected")
    sent = 0
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
        for message in MESSAGES:
            for _ in range(3):  # a scanner's cadence: one sighting after another
                await pub.publish(message["topic"], json.dumps(message["payload"]))
                sent += 1
                await eventually(lambda sent=sent: agent.stats.counters["ble_adverts"] == sent)  # type: ignore[misc]
            # the next message may be the other form of the same beacon: let it be a sighting of its own
            await asyncio.sleep(SAME_SIGHTING_S)
        await eventually(lambda: agent.stats.counters["entries_alert"] == len(identifiers))
    stop.set()
    await task
    assert agent.stats.dead_letters == {}
    assert agent.stats.counters["ble_adverts_repeated"] == 0
    alerted = {row[0] for row in conn.execute("SELECT customer_id FROM alerts")}
    assert alerted == {f"c-{n}" for n in range(len(identifiers))}
    dump = "\n".join(conn.iterdump()).lower()
    for message in MESSAGES:  # no scanner's MAC is ever written down
        for key in ("id", "mac"):
            value = str(message["payload"].get(key, "")).lower()
            if len(value.replace(":", "")) == 12:
                assert value not in dump and value.replace(":", "") not in dump


async def test_a_decoded_and_a_raw_copy_of_one_advert_count_as_one_sighting(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    (decoded,) = [m for m in MESSAGES if m["name"].startswith("decoded BlueCharm")]
    (raw,) = [m for m in MESSAGES if m["name"].startswith("raw advertisement")]
    config = load_config(
        write_config(
            tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": mqtt_broker.url},
            zones=[{"id": "floor", "scanners": [scanner_of(raw)]}],
        )
    )  # fmt: skip
    agent = Agent(config, [remote_scanner_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.snapshot()["sources"].get("mqtt-ble-scanners", {}).get("link") == "connected")
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
        await pub.publish(decoded["topic"], json.dumps(decoded["payload"]))
        await pub.publish(raw["topic"], json.dumps(raw["payload"]))
        await eventually(lambda: agent.stats.counters["ble_adverts"] == 2)
        await pub.publish(raw["topic"], json.dumps(raw["payload"]))  # raw after raw: a sighting of its own
        await eventually(lambda: agent.stats.counters["ble_adverts"] == 3)
    stop.set()
    await task
    assert agent.stats.counters["ble_adverts_repeated"] == 1
