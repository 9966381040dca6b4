"""Cost with a chain's CRM: N customers and 10 000 offers imported, the agent running, entry
alerts of random known customers.

    python bench/catalog_scale.py                     # 100 000 customers
    python bench/catalog_scale.py --customers 1000000
    python bench/catalog_scale.py --quick             # 5 000 customers, 1 000 offers

Every customer has consent and an iBeacon identifier, a tenth a rotating key. The import runs
through `edge-agent customer import` and `offer import` (timed together as `import_s`); then
`edge-agent run` starts against a private mosquitto, and known customers picked at random walk
in past a remote scanner (Theengs JSON over MQTT): the latency is from the advert that decided
the entry to the alert on `{topic_prefix}/alerts`. Memory is the agent's, from
`/proc/PID/status` after the alerts: `rss_mb` (VmRSS) and `rss_anon_mb` (RssAnon, the private
memory a small box pays for). Prints one JSON object as its last line: customers, import_s,
rss_mb, rss_anon_mb, alert_latency_ms_p99 (and p50, offers, alerts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.config.agent import load_config  # noqa: E402
from edge_agent.runtime.control import query_status  # noqa: E402
from edge_agent.sim.broker import MosquittoBroker  # noqa: E402
from edge_agent.testing.config import write_config  # noqa: E402
from edge_agent.testing.wait import wait_until  # noqa: E402

UUID = "f7826da64fa24e988024bc5b71e0893e"
CATEGORIES = ("shoes", "bags", "outerwear", "accessories", "beauty", "kids")


def ibeacon(i: int) -> str:
    u = UUID
    return f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}:{i >> 16}:{i & 0xFFFF}"


def write_catalog(folder: Path, customers: int, offers: int) -> tuple[Path, Path]:
    people, deals = folder / "customers.csv", folder / "offers.csv"
    with people.open("w") as out:
        out.write("customer_id,display_name,tier,consent,ibeacon,rotating_key,preferred_categories,visits_90d\n")
        for i in range(customers):
            key = secrets.token_hex(16) if i % 10 == 0 else ""
            out.write(f"c-{i:07d},Customer {i},{('bronze', 'silver', 'gold')[i % 3]},true,{ibeacon(i)},{key},"
                      f"{CATEGORIES[i % 6]},{i % 12}\n")  # fmt: skip
    with deals.open("w") as out:
        out.write("offer_id,title,category,kind,in_stock\n")
        for i in range(offers):
            out.write(f"o-{i:05d},Offer {i},{CATEGORIES[i % 6]},{('discount', 'service', 'accessory')[i % 3]},true\n")
    return people, deals


def status_field(pid: int, name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Walk:
    """Known customers walking in past scanner-1, one after another; alerts as they arrive."""

    def __init__(self, port: int, prefix: str) -> None:
        self.decided: dict[str, float] = {}
        self.latency_ms: list[float] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-walk")
        self.client.on_message = self._alert
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/alerts", qos=1)
        self.client.loop_start()

    def _alert(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        cid = json.loads(message.payload).get("customer_id")
        with self._lock:
            if cid in self.decided:
                self.latency_ms.append((time.time() - self.decided.pop(cid)) * 1000)

    def arrive(self, i: int) -> None:
        data = "4c000215" + UUID + f"{i >> 16:04x}{i & 0xFFFF:04x}c5"
        body = json.dumps({"id": f"AA:00:{i >> 24 & 255:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}",
                           "rssi": -55, "manufacturerdata": data})  # fmt: skip
        cid = f"c-{i:07d}"
        for n in range(6):  # the third sighting decides the entry, unless the agent merged two while busy
            if n == 2:
                with self._lock:
                    self.decided[cid] = time.time()
            elif n > 2:
                with self._lock:
                    if cid not in self.decided:
                        return  # alerted: no need for more
            self.client.publish("home/scanner-1/BTtoMQTT/x", body, qos=0)
            time.sleep(0.02)


def run(customers: int, offers: int, alerts: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="catalog-") as tmp, MosquittoBroker() as broker:
        folder = Path(tmp)
        path = write_config(
            folder / "agent.yaml",
            data_dir=folder / "data",
            mqtt={"url": broker.url},
            ble={"mode": "off", "remote_scanners": True},
            zones=[{"id": "entrance", "scanners": ["scanner-1"]}],
            presence={"rotating_uuid": ibeacon(0).split(":")[0]},
            scoring={"holdout_pct": 0, "cooldown_s": 3600},
            uplink={"kind": "off"},
        )
        config = load_config(path)
        people, deals = write_catalog(folder, customers, offers)
        cli = [sys.executable, "-m", "edge_agent"]
        started = time.monotonic()
        for what, file in (("customer", people), ("offer", deals)):
            subprocess.run([*cli, what, "import", str(file), "--config", str(path)], check=True, capture_output=True)
        import_s = time.monotonic() - started
        agent = subprocess.Popen([*cli, "run", "--config", str(path)], stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: (query_status(config.socket_path) or {}).get("running") is True, within=300)
            time.sleep(3)
            walk = Walk(broker.port, config.topic_prefix)
            for i in random.Random(7).sample(range(customers), alerts):
                walk.arrive(i)
                time.sleep(0.05)
            with contextlib.suppress(TimeoutError):  # a missing alert is reported, not waited for forever
                wait_until(lambda: not walk.decided, within=30)
            missing = sorted(walk.decided)
            rss, anon = status_field(agent.pid, "VmRSS"), status_field(agent.pid, "RssAnon")
        finally:
            agent.terminate()
            agent.wait(30)
    lat = sorted(walk.latency_ms)
    return {
        "customers": customers,
        "offers": offers,
        "import_s": round(import_s, 1),
        "rss_mb": round(rss, 1),
        "rss_anon_mb": round(anon, 1),
        "alerts": len(lat),
        "alerts_missing": missing,
        "alert_latency_ms_p50": round(statistics.median(lat), 2),
        "alert_latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.offers, args.alerts = 5_000, 1_000, 30
    print(json.dumps(run(args.customers, args.offers, args.alerts)))


if __name__ == "__main__":
    main()
