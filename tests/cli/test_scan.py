"""`edge-agent device scan`: simulated radio, a clear line when BlueZ is missing, a Modbus probe on a pty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.config.profiles import ProfileRegistry
from edge_agent.field.scan import probe_modbus
from edge_agent.sim.adverts import arrivals, write_scenario
from edge_agent.testing.modbus import ModbusSensor

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def test_scan_lists_beacons_with_profile_and_registration(cli, config_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(
            "device",
            "add",
            "fob-7",
            "--profile",
            "ibeacon-loyalty",
            "--identifier",
            f"{UUID}:1:7",
            "--config",
            config_file,
        ).code
        == 0
    )
    scenario = write_scenario(tmp_path / "s.yaml", arrivals(f"{UUID}:1:7", f"{UUID}:1:8", first_at_s=0, gap_s=0.1))
    result = cli("device", "scan", "--duration", "2", "--simulate", scenario, "--json", "--config", config_file)
    assert result.code == 0, result.err
    found = {b["identifier"]: b for b in json.loads(result.out)["ble"]}
    assert set(found) == {f"{UUID}:1:7", f"{UUID}:1:8"}
    assert found[f"{UUID}:1:7"]["registered"] == "fob-7" and found[f"{UUID}:1:8"]["registered"] is None
    assert found[f"{UUID}:1:8"]["profile"] == "ibeacon-loyalty" and found[f"{UUID}:1:8"]["kind"] == "ibeacon"
    assert isinstance(json.loads(result.out)["serial_ports"], list)
    table = cli("device", "scan", "--duration", "1", "--simulate", scenario, "--config", config_file)
    assert "BLE beacons in range" in table.out and "fob-7" in table.out


@pytest.mark.skipif(Path("/run/dbus/system_bus_socket").exists(), reason="this machine has a D-Bus system bus")
def test_scan_without_bluez_says_how_to_fix_it(cli, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    # This machine has no D-Bus system bus: exactly the "BlueZ not running" case.
    result = cli("device", "scan", "--duration", "3", "--config", config_file)
    assert result.code == 1
    assert result.err.strip().count("\n") == 0 and "systemctl start dbus bluetooth" in result.err
    assert "Traceback" not in result.err


async def test_probe_reads_a_modbus_sensor(tmp_path: Path) -> None:
    async with ModbusSensor(tmp_path, registers={1: 231, 2: 402}) as sensor:
        result = await probe_modbus(str(sensor.port), ProfileRegistry.load().get("modbus-temp-humidity"))
    assert result["readings"] == {"temperature": 23.1, "humidity": 40.2}
