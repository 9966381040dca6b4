"""Remote BLE scanners (Theengs JSON, QoS 0) through a real mosquitto and the agent to presence.

    python bench/scanners.py            # 4 scanners x 250 beacons, 40 000 adverts/s offered for 10 s
    python bench/scanners.py --quick    # 3 s

Each scanner publishes from its own process at a fixed rate, half of its beacons decoded (as
scanners ship) and half as raw advertisement data. Every advert is accounted for:
processed by presence, or counted where it was shed (the MQTT client's bounded queue, coalescing
of a newer advert of the same phone at the same scanner, the beacon bound of the queue).
Prints one JSON object as its last line: scanner_adverts_per_s, scanner_published,
scanner_processed, scanner_dropped_counted (and whether they add up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sources.mqtt import remote_scanner_source
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import eventually

UUID = "e2c56db5dffb48d2b060d0f5a71096e0"
# A scanner as cheap as it can be (pre-encoded PUBLISH frames written in 5 ms slices), so that
# the publishers' CPU does not decide the figure: the agent shares the two cores with them.
PUBLISHER = """
import json, socket, sys, time
from edge_agent.links import wire
port, scanner, beacons, rate, seconds, uuid = sys.argv[1:7]
port, beacons, rate, seconds = int(port), int(beacons), float(rate), float(seconds)
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(wire.connect(scanner + "-bench", clean=True, keepalive=60, username=None, password=None))
assert sock.recv(4)[:2] == b"\\x20\\x02"
def body(i):
    mac = "AA:BB:CC:" + ":".join("%02X" % (i >> s & 255) for s in (16, 8, 0))
    if i % 2:  # raw advertisement data
        advert = {"id": mac, "rssi": -60 - i % 20, "manufacturerdata": "4c000215" + uuid + "%08xc5" % i}
    else:  # decoded, as OpenMQTTGateway and Theengs Gateway publish by default
        advert = {"id": mac, "mac_type": 1, "rssi": -60 - i % 20, "brand": "GENERIC", "model": "iBeacon",
                  "model_id": "IBEACON", "mfid": "4c00", "uuid": uuid, "major": i >> 16, "minor": i & 0xFFFF,
                  "txpower": -59}
    return json.dumps(advert).encode()
topic = "home/" + scanner + "/BTtoMQTT/x"
frames = [wire.publish_packet(topic, body(i)) for i in range(beacons)]
start, sent = time.time(), 0
while time.time() - start < seconds:
    due = int((time.time() - start) * rate)
    if due > sent:
        sock.sendall(b"".join(frames[i % beacons] for i in range(sent, due)))
        sent = due
    time.sleep(0.005)
sock.sendall(wire.DISCONNECT_BYTES)
sock.close()
print(sent, start)
"""


async def run(scanners: int, beacons: int, rate: float, seconds: float) -> dict[str, object]:
    names = [f"scanner-{i}" for i in range(scanners)]
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker() as broker:
        config = load_config(
            write_config(
                Path(tmp) / "agent.yaml",
                data_dir=Path(tmp) / "data",
                mqtt={"url": broker.url},
                zones=[{"id": "floor", "scanners": names}],
            )
        )
        agent = Agent(config, [remote_scanner_source(config)])
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await eventually(lambda: agent.snapshot()["sources"].get("mqtt-ble-scanners", {}).get("link") == "connected")
        code = PUBLISHER
        args = [str(beacons), str(rate / scanners), str(seconds), UUID]
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", code, str(broker.port), name, *args, stdout=subprocess.PIPE
            )
            for name in names
        ]
        published, first = 0, time.time()
        for proc in procs:
            sent, began = (await proc.communicate())[0].split()
            published, first = published + int(sent), min(first, float(began))

        def accounted() -> tuple[int, int, int, int]:
            snap = agent.snapshot()
            source, queue = snap["sources"]["mqtt-ble-scanners"], snap["queue"]
            processed = snap["counters"].get("ble_adverts", 0)
            return processed, source["dropped"], queue["coalesced_adverts"], queue["dropped_adverts"]

        await eventually(lambda: sum(accounted()) >= published and snap_idle(agent), within=120, every=0.02)
        elapsed = time.time() - first  # from the first advert published to the last one accounted for
        processed, client_dropped, coalesced, queue_dropped = accounted()
        stop.set()
        await task
    counted = client_dropped + coalesced + queue_dropped
    return {
        # Taken from the broker and dealt with: evaluated by presence, or superseded while waiting
        # by a newer advert of the same phone at the same scanner (counted as coalesced).
        "scanner_adverts_per_s": round((processed + coalesced) / elapsed),
        "scanner_processed_per_s": round(processed / elapsed),
        "scanner_published": published,
        "scanner_processed": processed,
        "scanner_dropped_counted": counted,
        "adds_up": processed + counted == published,
        "offered_per_s": rate,
        "dropped_by_client_queue": client_dropped,
        "coalesced": coalesced,
        "dropped_by_beacon_bound": queue_dropped,
        "scanners": scanners,
        "beacons_per_scanner": beacons,
        "seconds": round(elapsed, 2),
    }


def snap_idle(agent: Agent) -> bool:
    return bool(agent.snapshot()["queue"]["depth"] == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scanners", type=int, default=4)
    parser.add_argument("--beacons", type=int, default=250)
    parser.add_argument("--rate", type=float, default=40_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    print(json.dumps(asyncio.run(run(args.scanners, args.beacons, args.rate, seconds))))


if __name__ == "__main__":
    main()
