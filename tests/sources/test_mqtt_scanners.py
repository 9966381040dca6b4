"""Remote BLE scanners (Theengs Gateway JSON) on a real broker drive presence and alerts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from edge_agent.config.agent import load_config
from edge_agent.field.imports import import_customers
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import remote_scanner_source
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

# iBeacon e2c56db5-dffb-48d2-b060-d0f5a71096e0 major 1 minor 2, as Theengs Gateway reports it
MFG = "4c000215e2c56db5dffb48d2b060d0f5a71096e000010002c5"


async def test_scanner_messages_become_an_alert_and_garbage_becomes_dead_letters(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = load_config(
        write_config(
            tmp_path / "agent.yaml",
            data_dir=tmp_path / "data",
            mqtt={"url": mqtt_broker.url},
            zones=[{"id": "fitting-rooms", "scanners": ["scanner-1"]}],
            scoring={"holdout_pct": 0},
        )
    )
    customers = tmp_path / "c.csv"
    customers.write_text(
        "customer_id,display_name,consent,ibeacon\nc-1,Ada,true,e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2\n"
    )
    conn = connect(config.db_path)
    import_customers(conn, customers)
    agent = Agent(config, [remote_scanner_source(config)])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.snapshot()["sources"].get("mqtt-ble-scanners", {}).get("link") == "connected")
    async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as pub:
        advert = {"id": "D4:2A:11:22:33:44", "rssi": -60, "manufacturerdata": MFG}
        for n in range(1, 4):  # the first sighting seeds the average; two strong ones make an entry
            await pub.publish("home/scanner-1/BTtoMQTT/D42A11223344", json.dumps(advert))
            # one at a time, like a scanner's cadence (sightings waiting together are coalesced)
            await eventually(lambda n=n: agent.stats.counters["ble_adverts"] == n)  # type: ignore[misc]
        await pub.publish("home/scanner-1/BTtoMQTT/D42A11223344", b"\x00garbage")
        await pub.publish("home/scanner-9/BTtoMQTT/D42A11223344", json.dumps(advert))
        await eventually(lambda: agent.stats.counters["entries_alert"] == 1)
        await eventually(lambda: sum(agent.stats.dead_letters.values()) == 2)
    stop.set()
    await task
    assert agent.stats.dead_letters == {("scanner-1", "bad_json"): 1, ("unknown", "unknown_device"): 1}
    (zone,) = conn.execute("SELECT zone FROM alerts").fetchone()
    assert zone == "fitting-rooms"
    # the phone's MAC address is never written to disk
    dump = "\n".join(conn.iterdump())
    assert "D4:2A:11:22:33:44" not in dump and "D42A11223344" not in dump
