"""Field faults, measured: a full SD card and its recovery, and two boxes with one identity.

    python bench/faults.py [--quick] [--events N] [--clash-s S]

Disk full (needs root: a real tmpfs): `edge-agent run` with its data dir on a 3 MiB tmpfs takes N
QoS 1 mirror events until the card is full; the card then grows to 256 MiB and the bench measures
how long it takes until all N are stored exactly once. Clash: two `edge-agent run` with one
config (their own data dirs, as two boxes with a cloned SD card) on one mosquitto for S seconds;
takeovers are counted from mosquitto's log. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.config.agent import load_config  # noqa: E402
from edge_agent.runtime.control import query_status  # noqa: E402
from edge_agent.sim.broker import MosquittoBroker  # noqa: E402
from edge_agent.store import connect  # noqa: E402
from edge_agent.testing.config import write_config  # noqa: E402
from edge_agent.testing.disk import SmallDisk, can_mount  # noqa: E402
from edge_agent.testing.wait import wait_until  # noqa: E402

SECTIONS = {
    "devices": {"auto_register": True, "rate_per_s": 100000, "burst": 100000},
    "store": {"min_free_mb": 0},
}


def agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        cwd=ROOT,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def publish(port: int, topic: str, n: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=1000) as client:
        for i in range(n):
            body = {"event": "try_on", "session_id": f"s-{i}", "sku": f"SKU-{i % 500}", "ts": time.time()}
            await client.publish(topic, json.dumps(body).encode(), qos=1)


def stored(db: Path) -> tuple[int, int]:
    conn = connect(db, readonly=True)
    try:
        total, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT dedup_key) FROM events WHERE kind = 'mirror'"
        ).fetchone()
        return int(total), int(distinct)
    finally:
        conn.close()


def disk_full(tmp: Path, broker: MosquittoBroker, events: int) -> dict[str, object]:
    with SmallDisk(tmp / "data", 3) as disk:
        path = write_config(tmp / "agent.yaml", data_dir=disk.path, mqtt={"url": broker.url}, **SECTIONS)
        config = load_config(path)
        proc = agent(path, tmp / "agent.log")
        try:
            wait_until(lambda: (query_status(config.socket_path) or {}).get("links", {}).get("mqtt-mirror", {})
                       .get("state") == "connected", within=30)  # fmt: skip
            topic = f"{config.topic_prefix}/mirror/mirror-1/events"
            asyncio.run(publish(broker.port, topic, events))
            wait_until(lambda: (query_status(config.socket_path) or {}).get("store", {}).get("writable") is False,
                       within=60)  # fmt: skip
            held = stored(config.db_path)[0]
            health = (query_status(config.socket_path) or {}).get("health", {})
            disk.grow(256)
            grown = time.monotonic()
            wait_until(lambda: stored(config.db_path)[0] >= events, within=120, every=0.05)
            recovered = time.monotonic() - grown
            total, distinct = stored(config.db_path)
        finally:
            stop(proc)
        warnings = (tmp / "agent.log").read_text().count("cannot commit")
    return {
        "disk_full_events": events,
        "disk_full_stored_when_full": held,
        "disk_full_health": health.get("status"),
        "disk_full_recovery_s": round(recovered, 2),
        "disk_full_counted": total,
        "disk_full_distinct": distinct,
        "disk_full_warnings": warnings,
    }


def clash(tmp: Path, broker: MosquittoBroker, seconds: float) -> dict[str, object]:
    procs, configs = [], []
    for box in ("a", "b"):
        path = write_config(tmp / f"{box}.yaml", data_dir=tmp / f"data-{box}", mqtt={"url": broker.url},
                            store_id="store-0042", **SECTIONS)  # fmt: skip
        configs.append(load_config(path))
        procs.append(agent(path, tmp / f"{box}.log"))
    before = broker.log().count("already connected, closing old connection")
    started = time.monotonic()
    states: list[dict[str, str]] = []
    try:
        time.sleep(seconds)
        for config in configs:
            snap = query_status(config.socket_path) or {}
            states.append({name: link["state"] for name, link in snap.get("links", {}).items()})
    finally:
        for proc in procs:
            stop(proc)
    elapsed = time.monotonic() - started
    takeovers = broker.log().count("already connected, closing old connection") - before
    named = sum((tmp / f"{box}.log").read_text().count("another box uses client id") for box in ("a", "b"))
    return {
        "clash_s": round(elapsed, 1),
        "clash_takeovers": takeovers,
        "clash_takeovers_per_min": round(takeovers / elapsed * 60, 1),
        "clash_conflict_links": sum(list(s.values()).count("conflict") for s in states),
        "clash_warnings_naming_client_id": named,
        "clash_states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--clash-s", type=float, default=None)
    args = parser.parse_args()
    events = args.events or (5000 if args.quick else 20000)
    seconds = args.clash_s or (6.0 if args.quick else 60.0)
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as name, MosquittoBroker(extra_config="log_type all") as broker:
        tmp = Path(name)
        result.update(clash(tmp / "clash", broker, seconds) if (tmp / "clash").mkdir() is None else {})
        if can_mount():
            (tmp / "full").mkdir()
            result.update(disk_full(tmp / "full", broker, events))
        else:
            result["disk_full"] = "skipped: needs root to mount a small tmpfs"
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
