"""Memory and CPU of `edge-agent run` under a steady crowd with churn (docs/interface.md § Benchmarks).

    python bench/soak.py                 # 2 minutes: 1 000 beacons x 3 scanners at 1 Hz, 20 % churn every 10 s
    python bench/soak.py --minutes 30    # a long run
    python bench/soak.py --quick         # 3 s

The agent runs as its own process (`edge-agent run`), the three scanners publish from another
process to a private mosquitto. Memory and CPU time are read from /proc every 2 s: RSS, the
anonymous (private) part a small box actually pays for (RssAnon), and PSS (shared library pages
split between the processes using them, /proc/PID/smaps_rollup). Prints one JSON object as its
last line: rss_mb_idle, rss_mb_steady, rss_mb_max, rss_anon_mb_steady, pss_mb_steady,
rss_growth_mb_per_min, anon_growth_mb_per_min, cpu_pct_per_1k_msgs, and libraries_anon_mb (a
process that imports only the libraries the agent runs on, for comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.config.agent import load_config
from edge_agent.runtime.control import query_status
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import wait_until

CROWD = """
import json, random, sys, time
import paho.mqtt.client as m
from paho.mqtt.enums import CallbackAPIVersion
port, beacons, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = random.Random(5)
c = m.Client(CallbackAPIVersion.VERSION2)
c.connect("127.0.0.1", port)
c.loop_start()
ids = list(range(beacons))
next_id = beacons
start, sent, tick = time.monotonic(), 0, 0
while time.monotonic() - start < seconds:
    tick += 1
    if tick % 10 == 0:  # every 10 s a fifth of the crowd leaves and new people arrive
        for k in rng.sample(range(beacons), beacons // 5):
            ids[k] = next_id
            next_id += 1
    for scanner in ("scanner-a", "scanner-b", "scanner-c"):  # zones a-entrance, b-aisles, c-fitting
        for i in ids:
            body = {"id": "AA:BB:" + ":".join("%02X" % (i >> s & 255) for s in (24, 16, 8, 0)), "rssi": -55 - i % 30,
                    "manufacturerdata": "4c000215e2c56db5dffb48d2b060d0f5a71096e0" + "%08x" % (i & 0xFFFFFFFF) + "c5"}
            c.publish("home/" + scanner + "/BTtoMQTT/x", json.dumps(body), qos=0)
            sent += 1
    ahead = start + tick - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
c.loop_stop()
c.disconnect()
print(sent)
"""


LIBRARIES = "import aiohttp, aiomqtt, numpy, onnxruntime, paho.mqtt.client, pydantic, sqlite3, yaml; input()"


def proc_mb(pid: int, file: str, field: str) -> float:
    for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid: int) -> float:
    return proc_mb(pid, "status", "VmRSS")


def memory(pid: int) -> tuple[float, float, float]:
    """(RSS, anonymous RSS, PSS) in MB."""
    return rss_mb(pid), proc_mb(pid, "status", "RssAnon"), proc_mb(pid, "smaps_rollup", "Pss")


def libraries_anon_mb() -> float:
    """Anonymous memory of a process that only imports the agent's libraries (the floor)."""
    probe = subprocess.Popen([sys.executable, "-c", LIBRARIES], stdin=subprocess.PIPE)
    try:
        time.sleep(3)
        return proc_mb(probe.pid, "status", "RssAnon")
    finally:
        probe.communicate(b"\n", timeout=10)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slope_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 60


def crowd_config(folder: Path, broker: MosquittoBroker) -> Path:
    """The agent's config for the crowd: three zones, one per scanner, the store broker."""
    return write_config(
        folder / "agent.yaml",
        data_dir=folder / "data",
        mqtt={"url": broker.url},
        zones=[{"id": z, "scanners": [f"scanner-{z[0]}"]} for z in ("a-entrance", "b-aisles", "c-fitting")],
    )


def soak(seconds: float, beacons: int, settle_s: float = 5.0) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker() as broker:
        path = crowd_config(Path(tmp), broker)
        config = load_config(path)
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(path)], stderr=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: (query_status(config.socket_path) or {}).get("running") is True, within=60)
            time.sleep(settle_s)  # idle memory once start-up allocations have settled
            idle = rss_mb(agent.pid)
            crowd = subprocess.Popen(
                [sys.executable, "-c", CROWD, str(broker.port), str(beacons), str(seconds)], stdout=subprocess.PIPE
            )
            samples: list[tuple[float, tuple[float, float, float]]] = []
            start, cpu0 = time.monotonic(), cpu_s(agent.pid)
            while crowd.poll() is None:
                time.sleep(2)
                samples.append((time.monotonic() - start, memory(agent.pid)))
            elapsed, cpu = time.monotonic() - start, cpu_s(agent.pid) - cpu0
            sent = int(crowd.communicate()[0] or 0)
            status = query_status(config.socket_path, timeout=10) or {}
        finally:
            agent.terminate()
            agent.wait(20)
    second_half = [s for s in samples if s[0] >= elapsed / 2]
    rate = sent / elapsed

    def steady(i: int) -> float:
        return round(statistics.median(m[i] for _, m in second_half), 1)

    return {
        "rss_mb_idle": round(idle, 1),
        "rss_mb_steady": steady(0),
        "rss_mb_max": round(max(m[0] for _, m in samples), 1),
        "rss_anon_mb_steady": steady(1),
        "pss_mb_steady": steady(2),
        "libraries_anon_mb": round(libraries_anon_mb(), 1),
        "rss_growth_mb_per_min": round(slope_per_min([(t, m[0]) for t, m in second_half]), 2),
        "anon_growth_mb_per_min": round(slope_per_min([(t, m[1]) for t, m in second_half]), 3),
        "cpu_pct_per_1k_msgs": round(100 * cpu / elapsed / (rate / 1000), 2),
        "msgs_per_s_offered": round(rate),
        "processed": status.get("counters", {}).get("ble_adverts"),
        "dropped_counted": status.get("sources", {}).get("mqtt-ble-scanners", {}).get("dropped"),
        "present": status.get("present"),
        "seconds": round(elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--beacons", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(soak(3.0 if args.quick else args.minutes * 60, args.beacons, 1.0 if args.quick else 5.0)))


if __name__ == "__main__":
    main()
