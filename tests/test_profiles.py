"""Device profiles: the shipped seven validate; errors give file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config.profiles import ProfileRegistry, load_profile, shipped_profiles_dir
from edge_agent.core.errors import ProfileError

SHIPPED = {
    "ibeacon-loyalty",
    "eddystone-uid",
    "altbeacon",
    "theengs-remote-scanner",
    "openmqttgateway-scanner",
    "espresense-scanner",
    "modbus-temp-humidity",
    "serial-people-counter",
    "smart-mirror",
}


def test_the_seven_spec_profiles_ship_and_validate() -> None:
    registry = ProfileRegistry.load()
    assert set(registry.names()) >= SHIPPED
    modbus = registry.get("modbus-temp-humidity")
    assert modbus.serial is not None and modbus.serial.framing == "rtu"
    assert [r.address for r in modbus.resources] == [1, 2]
    assert registry.get("smart-mirror").mqtt is not None


def test_site_profiles_override_shipped_ones(tmp_path: Path) -> None:
    text = (shipped_profiles_dir() / "smart-mirror.yaml").read_text()
    (tmp_path / "smart-mirror.yaml").write_text(text.replace("Smart mirror session events", "Site mirror"))
    registry = ProfileRegistry.load([tmp_path])
    assert registry.get("smart-mirror").description.startswith("Site mirror")
    assert registry.path("smart-mirror") == tmp_path / "smart-mirror.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nrole: beacon\ntransport: ble\ndecoder: ibeacon\nble: {company_id: 76}\ncolour: red\n",
            ":6: colour: unknown key",
        ),
        (
            "name: x\nrole: beacon\ntransport: zigbee\ndecoder: ibeacon\n",
            ":3: transport: expected 'ble', 'serial' or 'mqtt'",
        ),
        (
            "name: x\nrole: sensor\ntransport: serial\ndecoder: modbus\nserial: {framing: rtu}\nmodbus: {}\n"
            "resources:\n  - {name: t, type: int16}\n",
            "every modbus resource needs a 'register'",
        ),
        (
            "name: x\nrole: sensor\ntransport: serial\ndecoder: line\nserial:\n  baudrate: 1234\n  line_format: kv\n",
            ":6: serial.baudrate: expected 1200, 2400",
        ),
        (
            "name: x\nrole: mirror\ntransport: mqtt\ndecoder: json\nmqtt: {topic: '{store}/x'}\n",
            ":5: mqtt.topic: unknown placeholder {store}",
        ),
        (
            "name: x\nrole: beacon\ntransport: ble\ndecoder: ibeacon\nble: {}\n"
            "resources:\n  - {name: r, type: int, min: 5, max: 1}\n",
            ":7: resources.0: min (5.0) is greater than max (1.0)",
        ),
    ],
)
def test_profile_errors_name_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_profile_validate_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = cli("profile", "validate", shipped_profiles_dir() / "serial-people-counter.yaml")
    assert ok.code == 0 and "ok (serial-people-counter, serial/line" in ok.out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrole: beacon\ntransport: ble\ndecoder: ibeacon\nble: {company_id: -1}\n")
    result = cli("profile", "validate", bad)
    assert result.code == 2
    assert f"{bad}:5: ble.company_id: expected greater than or equal to 0" in result.err


def test_profile_list_and_show_work_without_a_config(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EDGE_AGENT_CONFIG", str(tmp_path / "absent.yaml"))
    listed = cli("profile", "list", "--json")
    assert listed.code == 0
    import json

    assert {p["name"] for p in json.loads(listed.out)} >= SHIPPED
    shown = cli("profile", "show", "modbus-temp-humidity")
    assert shown.code == 0 and "register: 1" in shown.out
    assert cli("profile", "show", "nope").code == 2
