"""deploy/: what can be verified on this machine is verified."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[1] / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = DEPLOY / "systemd" / "edge-agent.service"
    text = unit.read_text()
    for needed in (
        "Type=notify",
        "WatchdogSec=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "StateDirectory=edge-agent",
        "ConfigurationDirectory=edge-agent",
        "CAP_NET_RAW",
    ):
        assert needed in text
    # systemd-analyze checks every directive; the venv does not exist here, so point ExecStart
    # at a binary that does.
    copy = tmp_path / "edge-agent.service"
    copy.write_text(text.replace("/opt/edge-agent/venv/bin/edge-agent", shutil.which("true") or "/bin/true"))
    proc = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert str(copy) not in proc.stderr, proc.stderr


def test_install_script_is_valid_bash_and_shellcheck_clean() -> None:
    script = DEPLOY / "install.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    if shutil.which("shellcheck"):
        proc = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_mosquitto_config_is_accepted_by_mosquitto(tmp_path: Path) -> None:
    from edge_agent.sim.broker import free_port, mosquitto_binary, wait_for_port

    binary = mosquitto_binary()
    assert binary is not None
    conf = (DEPLOY / "mosquitto" / "edge-agent.conf").read_text()
    port = free_port()
    (tmp_path / "passwd").write_text("")
    (tmp_path / "acl").write_text("")
    conf = (
        conf.replace("/var/lib/edge-agent/mosquitto.passwd", str(tmp_path / "passwd"))
        .replace("/var/lib/edge-agent/mosquitto.acl", str(tmp_path / "acl"))
        .replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
        .replace("listener 1883 0.0.0.0\n", "")
        .replace("/var/lib/mosquitto/", f"{tmp_path}/")
    )
    (tmp_path / "m.conf").write_text(conf + "user root\n")
    proc = subprocess.Popen([binary, "-c", str(tmp_path / "m.conf")], stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_cloud_side_matches_what_fleet_land_expects() -> None:
    import json

    from edge_agent.fleet.consumers import STREAM, nats_subject
    from edge_agent.fleet.store import migrations

    stream = json.loads((DEPLOY / "cloud" / "nats-stream.json").read_text())
    assert stream["name"] == STREAM and stream["subjects"] == [nats_subject("retail/+/aggregates")]
    assert [name for name, _ in migrations()] == sorted(p.name for p in (DEPLOY / "cloud" / "migrations").glob("*.sql"))
    unit = (DEPLOY / "cloud" / "edge-fleet-land.service").read_text()
    assert "fleet land --from" in unit and "Restart=always" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_landing_unit_verifies(tmp_path: Path) -> None:
    text = (DEPLOY / "cloud" / "edge-fleet-land.service").read_text()
    copy = tmp_path / "edge-fleet-land.service"
    copy.write_text(
        text.replace("/usr/local/bin/edge-agent", shutil.which("true") or "/bin/true")
        .replace("EnvironmentFile=/etc/edge-fleet/land.env", f"EnvironmentFile=-{tmp_path}/land.env")
        .replace("User=edge-fleet", "User=root")
    )
    proc = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
