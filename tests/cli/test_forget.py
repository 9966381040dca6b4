"""`customer forget` erases the customer and every row that names them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from edge_agent.core.events import MirrorEvent
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sources.base import SourceEvent
from edge_agent.store import connect
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually


async def mirror_visit() -> AsyncIterator[SourceEvent]:
    """Ada scans her loyalty card at a mirror and tries something on."""
    now = time.time()
    for kind in ("session_start", "try_on", "like"):
        yield MirrorEvent("mirror-1", kind, "s-1", now, None if kind == "session_start" else "SKU-1", "c-ada")


async def test_forget_leaves_no_trace(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = seeded_config(tmp_path, devices={"auto_register": True})
    async with running_agent(Agent(config, [ScriptedSource("mirror-visit", mirror_visit)])) as agent:
        token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 60, "n")
        async with aiohttp.ClientSession() as http, http.post(f"{agent.http_url}/api/checkin", json={"token": token}):
            pass
        await eventually(
            lambda: agent.stats.counters["entries_alert"] == 1 and agent.stats.device_events["mirror-1"] == 3
        )

    def dump() -> str:
        db = connect(config.db_path)
        try:
            return "\n".join(db.iterdump())
        finally:
            db.close()

    before = dump()
    assert before.count("c-ada") >= 5  # customer, identifier, visit, alert, mirror events
    result = cli("customer", "forget", "c-ada", "--yes", "--json", "--config", tmp_path / "agent.yaml")
    assert result.code == 0, result.err
    after = dump()
    for trace in ("c-ada", "Ada Lovelace", ":100:1"):
        assert trace not in after, trace
    assert "c-grace" in after  # nobody else was touched
    again = cli("customer", "forget", "c-ada", "--yes", "--config", tmp_path / "agent.yaml")
    assert again.code == 1 and "no customer 'c-ada'" in again.err


def test_forget_asks_first_and_a_no_keeps_the_customer(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = seeded_config(tmp_path)
    cmd = [sys.executable, "-m", "edge_agent", "customer", "forget", "c-ada", "--config", str(tmp_path / "agent.yaml")]
    result = subprocess.run(cmd, input="n\n", capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Erase c-ada" in result.stdout and "Traceback" not in result.stderr
    with connect(config.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers WHERE customer_id = 'c-ada'").fetchone()[0] == 1
