"""Bytes written to disk per hour at a busy-store rate (300 visitors/h, ~50 phones in range at once),
by the same agent the demo runs: simulated BLE through three scanners, SQLite in WAL mode.

    python bench/disk_writes.py [--quick]

Time is compressed (the scenario plays at --speed); the figure is scaled back to one real hour.
Measured from /proc/self/io (write_bytes: what reached the block layer, WAL and checkpoints
included). Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from edge_agent.config.agent import load_config
from edge_agent.demo import DEMO_ZONES, OFFERS, walking_store
from edge_agent.field.imports import import_customers, import_offers
from edge_agent.runtime import Agent
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def write_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


async def main(quick: bool) -> dict[str, object]:
    speed = 40.0
    simulated_s = 300.0 if quick else 1800.0
    visitors = int(300 * simulated_s / 3600)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = load_config(
            write_config(
                tmp / "agent.yaml",
                data_dir=tmp / "data",
                mqtt={"url": "mqtt://127.0.0.1:1"},
                zones=[z.model_dump() for z in DEMO_ZONES],
                aggregates={"bucket_s": max(1, int(3600 / speed))},
                privacy={"retention_days": 7, "k_anonymity": 5},
            )
        )
        known = [f"{UUID}:200:{i}" for i in range(visitors // 10)]  # one visitor in ten is a known customer
        (tmp / "c.json").write_text(
            json.dumps(
                [
                    {
                        "customer_id": f"c-{i}",
                        "display_name": f"Customer {i}",
                        "tier": "silver",
                        "consent": True,
                        "ibeacon": ident,
                    }
                    for i, ident in enumerate(known)
                ]
            )
        )
        (tmp / "o.json").write_text(json.dumps(OFFERS))
        conn = connect(config.db_path)
        import_customers(conn, tmp / "c.json")
        import_offers(conn, tmp / "o.json")
        conn.close()
        # Stays of 5–15 minutes: with 300 arrivals an hour, about 50 phones are in range at once.
        scenario = walking_store(
            known, anonymous=visitors - len(known), duration_s=simulated_s, stay_s=(300, 900), browse_s=(30, 120)
        )
        agent = Agent(config, [SimulatedBleSource(scenario, speed=speed)])
        stop = asyncio.Event()
        before = write_bytes()
        started = time.monotonic()
        task = asyncio.create_task(agent.run(stop))
        await eventually(
            lambda: agent.snapshot()["sources"].get("ble-sim", {}).get("state") == "finished", within=600, every=0.5
        )
        stop.set()
        await task
        written = write_bytes() - before
        wall = time.monotonic() - started
    per_hour = written * 3600 / simulated_s
    return {
        "bytes_written_per_hour": round(per_hour),
        "mb_written_per_hour": round(per_hour / 2**20, 2),
        "visitors_per_hour": 300,
        "simulated_s": simulated_s,
        "wall_s": round(wall, 1),
        "adverts": agent.stats.counters["ble_adverts"],
        "alerts": agent.stats.counters["entries_alert"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    print(json.dumps(asyncio.run(main(parser.parse_args().quick))))
