"""`edge-agent run` as a real process: status from outside, JSON logs, graceful SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.sim.adverts import arrivals, write_scenario
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.store.effects import open_counts
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import wait_until

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def edge_agent(*args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def running(
    tmp_path: Path, data_dir: Path, mqtt_broker: MosquittoBroker
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    config = write_config(
        tmp_path / "agent.yaml",
        data_dir=data_dir,
        mqtt={"url": mqtt_broker.url},
        aggregates={"bucket_s": 3600},
        scoring={"holdout_pct": 0},
    )
    (tmp_path / "customers.csv").write_text(f"customer_id,display_name,consent,ibeacon\nc-1,Ada,true,{UUID}:1:1\n")
    assert edge_agent("customer", "import", tmp_path / "customers.csv", "--config", config).returncode == 0
    scenario = write_scenario(tmp_path / "scenario.yaml", arrivals(f"{UUID}:1:1", stay_s=600))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_agent",
            "run",
            "--config",
            str(config),
            "--simulate",
            str(scenario),
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc, config
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def status(config: Path) -> dict[str, object] | None:
    result = edge_agent("status", "--json", "--config", config)
    return json.loads(result.stdout) if result.returncode == 0 else None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_status_from_outside_then_graceful_stop_flushes(running: tuple[subprocess.Popen[str], Path], sig: int) -> None:
    proc, config = running
    wait_until(lambda: (s := status(config)) is not None and s["counters"].get("entries_alert", 0) >= 1)  # type: ignore[union-attr]
    snap = status(config)
    assert snap is not None and snap["running"] is True and snap["store_id"] == "store-test"
    sources = snap["sources"]
    assert isinstance(sources, dict) and sources["ble-sim"]["state"] == "running" and sources["ble-sim"]["events"] > 0
    devices = snap["devices"]
    assert isinstance(devices, dict) and devices["local"]["last_event_ts"] is not None

    proc.send_signal(sig)
    assert proc.wait(timeout=5) == 0
    _, stderr = proc.communicate()
    logs = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(logs[0])
    assert any(entry["msg"] == "stopped" for entry in logs)

    db = connect(config.parent / "data" / "edge-agent.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1
    # The open hour's counters are committed with their inputs, so a restart continues the bucket.
    assert open_counts(db)


def test_status_says_not_running(config_file: Path) -> None:
    result = edge_agent("status", "--config", config_file)
    assert result.returncode == 1
    assert "not running" in result.stdout
    assert json.loads(edge_agent("status", "--json", "--config", config_file).stdout)["running"] is False
