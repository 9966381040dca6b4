"""`edge-agent doctor`: ok / warn / fail per check with fix hints; exit 1 when anything fails."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from edge_agent.core.events import CheckIn
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.config import write_config
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually


def test_healthy_box(cli, tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": mqtt_broker.url})
    connect(tmp_path / "data" / "edge-agent.db").close()
    result = cli("doctor", "--json", "--config", config)
    checks = {c["name"]: c for c in json.loads(result.out)}
    assert result.code == 0, result.out
    assert {
        "config",
        "clock",
        "database",
        "disk",
        "store broker",
        "BLE adapter",
        "serial ports",
        "offer model",
        "uplink",
    } <= set(checks)
    assert checks["database"]["detail"].startswith("integrity ok, journal wal")
    assert checks["offer model"]["level"] == "ok"


def test_failures_name_the_fix(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": "mqtt://127.0.0.1:1"})
    conn = connect(tmp_path / "data" / "edge-agent.db")
    conn.execute(
        "INSERT INTO devices(id, profile, transport, port, created_at) "
        "VALUES ('door', 'serial-people-counter', 'serial', '/dev/ttyNOPE9', 0)"
    )
    conn.close()
    result = cli("doctor", "--config", config)
    assert result.code == 1
    assert "FAIL store broker" in result.out and "systemctl start mosquitto" in result.out
    assert "FAIL serial ports" in result.out and "door (/dev/ttyNOPE9)" in result.out
    broken = cli("doctor", "--json", "--config", tmp_path / "missing.yaml")
    assert broken.code == 2 and json.loads(broken.out)[0]["level"] == "fail"


async def test_doctor_reports_the_running_agents_links_like_status(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = seeded_config(
        tmp_path,
        mqtt={"url": mqtt_broker.url},
        uplink={"kind": "mqtt", "url": "mqtt://127.0.0.1:1", "downlink": False, "interval_s": 0.2},
        aggregates={"bucket_s": 1},
    )
    async with running_agent(Agent(config)) as agent:
        await eventually(lambda: agent.snapshot()["links"]["store-broker"]["state"] == "connected")
        await agent.runtime.inbox.submit(
            CheckIn("c-ada", time.time(), "d", time.time() + 60)
        )  # a visit: a batch to send
        await eventually(lambda: agent.snapshot()["links"]["uplink"]["failures"] >= 1)  # sent at once, refused
        result = await asyncio.to_thread(cli, "doctor", "--json", "--config", tmp_path / "agent.yaml")
    checks = {c["name"]: c for c in json.loads(result.out)}
    assert checks["link store-broker"]["level"] == "ok"
    assert checks["link uplink"]["level"] == "warn" and "refused" in checks["link uplink"]["detail"].lower()
