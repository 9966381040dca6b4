"""edge-agent's durable MQTT ingest side by side with ThingsBoard IoT Gateway's forwarding.

    python bench/peer_tbgw.py                 # N=20000, 3 gateway runs (median), then edge-agent
    python bench/peer_tbgw.py --quick         # N=5000, 1 run
    python bench/peer_tbgw.py --crash         # also: SIGKILL both 0.5 s after the burst is acknowledged

The gateway side is the reference harness beside this script (`bench/peers/tbgw_mqtt_throughput.sh`): it
installs `thingsboard-gateway` 3.8.5 from PyPI into a temporary venv and runs its MQTT connector
with SQLite storage between two private mosquittos and a stand-in cloud. The edge side runs
`edge-agent run` against a private mosquitto and the same count of QoS 1 messages, published from
their own process as fast as the broker accepts them (mirror events: the agent's durable MQTT
input); the rate is messages stored in SQLite and acknowledged, from the first publish to the
last commit. Prints one JSON object as its last line: tbgw_msgs_per_s, edge_msgs_per_s,
edge_vs_tbgw (crash variant: tbgw_lost, edge_lost).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.config.agent import load_config  # noqa: E402
from edge_agent.runtime.control import query_status  # noqa: E402
from edge_agent.sim.broker import MosquittoBroker  # noqa: E402
from edge_agent.store import connect, rows  # noqa: E402
from edge_agent.testing.config import write_config  # noqa: E402
from edge_agent.testing.crash import open_session  # noqa: E402
from edge_agent.testing.wait import wait_until  # noqa: E402

HARNESS = ROOT / "bench" / "peers" / "tbgw_mqtt_throughput.sh"
# The burst is written as pre-encoded QoS 1 PUBLISH frames over one socket (PUBACKs counted as they
# come back): alone it does well over 30 000 msg/s here, so it is not what the figure measures.
BURST = """
import json, socket, sys, time
from edge_agent.links import wire
port, topic, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(wire.connect("edge-burst", clean=True, keepalive=60, username=None, password=None))
assert sock.recv(4)[:2] == b"\\x20\\x02"
def frame(i):
    body = {"event": "try_on", "session_id": "s%d" % i, "sku": "SKU-%d" % (i % 50), "ts": time.time()}
    return wire.publish_packet(topic, json.dumps(body).encode(), qos=1, mid=i % 65535 + 1)
frames = [frame(i) for i in range(n)]
t0 = time.time()
for i in range(0, n, 1000):
    sock.sendall(b"".join(frames[i : i + 1000]))
acked = 0
while acked < 4 * n:
    chunk = sock.recv(65536)
    assert chunk, "broker closed the connection"
    acked += len(chunk)
print(json.dumps({"t_start": t0, "t_acked": time.time()}))
sock.sendall(wire.DISCONNECT_BYTES)
sock.close()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tbgw(n: int, runs: int, crash: bool) -> dict[str, float | None]:
    if not HARNESS.exists():
        return {"tbgw_msgs_per_s": None, "tbgw_error": f"reference harness not found at {HARNESS}"}  # type: ignore[dict-item]
    # free loopback ports, so that the benchmark runs beside anything else (the suite runs it)
    env = {**os.environ, "N": str(n), "RUNS": str(runs), "SRC_PORT": str(free_port()), "CLOUD_PORT": str(free_port())}
    if crash:
        env["CRASH_AFTER_S"] = "0.5"
    proc = subprocess.run(["bash", str(HARNESS)], env=env, capture_output=True, text=True, timeout=3600)
    out = proc.stdout + proc.stderr
    rate = re.findall(r"tbgw_mqtt_forward_msgs_per_s=([\d.]+)", out)
    lost = re.findall(r"lost_total=(\d+)", out)
    runs = re.findall(r"rates=\[([^\]]*)\]", out)
    return {
        "tbgw_msgs_per_s": float(rate[-1]) if rate else None,
        "tbgw_lost": int(lost[-1]) if lost else None,
        "tbgw_run_rates": runs[-1].split() if runs else None,  # type: ignore[dict-item]
    }


def stored(db: Path) -> int:
    conn = connect(db, readonly=True)
    try:
        return rows.events_stored(conn, "mirror")
    finally:
        conn.close()


def edge(n: int, crash: bool) -> dict[str, float | int | None]:
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker() as broker:
        path = write_config(
            Path(tmp) / "agent.yaml", data_dir=Path(tmp) / "data", mqtt={"url": broker.url},
            devices={"auto_register": True}, ble={"remote_scanners": False},
        )  # fmt: skip
        config = load_config(path)
        topic = f"{config.topic_prefix}/mirror/m1/events"
        open_session(broker.port, f"edge-agent-{config.store_id}-mirror", f"{config.topic_prefix}/mirror/+/events")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(path)], stderr=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: (query_status(config.socket_path) or {}).get("running") is True, within=60)
            burst = subprocess.run(
                [sys.executable, "-c", BURST, str(broker.port), topic, str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            times = json.loads(burst.stdout)
            if crash:
                time.sleep(max(0.0, times["t_acked"] + 0.5 - time.time()))
                os.kill(agent.pid, signal.SIGKILL)
                agent.wait(10)
                agent = subprocess.Popen(
                    [sys.executable, "-m", "edge_agent", "run", "--config", str(path)], stderr=subprocess.DEVNULL
                )
            wait_until(lambda: stored(config.db_path) >= n, within=600, every=0.05)
            done = time.time()
            got = stored(config.db_path)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(20)
    return {"edge_msgs_per_s": round(n / (done - times["t_start"])), "edge_lost": max(0, n - got)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n, runs = (5_000, 1) if args.quick else (args.n, args.runs)
    peer = tbgw(n, runs, args.crash)
    # The same number of runs on both sides, medians (the gateway's rate varies a lot between runs).
    results = [edge(n, args.crash) for _ in range(1 if args.crash else runs)]
    rates = sorted(r["edge_msgs_per_s"] or 0 for r in results)
    mine = {
        "edge_msgs_per_s": statistics.median(rates),
        "edge_run_rates": rates,
        "edge_lost": sum(r["edge_lost"] or 0 for r in results),
    }
    ratio = mine["edge_msgs_per_s"] / peer["tbgw_msgs_per_s"] if peer.get("tbgw_msgs_per_s") else None
    result = {**peer, **mine, "edge_vs_tbgw": None if ratio is None else round(ratio, 2), "n": n, "tbgw_runs": runs}
    if not args.crash:
        result.pop("tbgw_lost", None)
        result.pop("edge_lost", None)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
