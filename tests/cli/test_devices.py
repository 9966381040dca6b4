"""`edge-agent device add|list|show|remove`: validated against profiles, duplicates refused."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def test_add_list_show_remove_round_trip(cli, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    c = ("--config", config_file)
    assert (
        cli("device", "add", "fob-1", "--profile", "ibeacon-loyalty", "--identifier", f"{UUID.upper()}:1:02", *c).code
        == 0
    )
    assert (
        cli(
            "device",
            "add",
            "counter-1",
            "--profile",
            "serial-people-counter",
            "--port",
            "/dev/ttyUSB0",
            "--set",
            "baudrate=19200",
            "--zone",
            "entrance",
            *c,
        ).code
        == 0
    )
    assert cli("device", "add", "mirror-1", "--profile", "smart-mirror", *c).code == 0

    listed = json.loads(cli("device", "list", "--json", *c).out)
    assert [d["id"] for d in listed] == ["counter-1", "fob-1", "mirror-1"]
    by_id = {d["id"]: d for d in listed}
    assert by_id["fob-1"]["identifier"] == f"{UUID}:1:2"
    assert by_id["counter-1"]["settings"] == {"baudrate": 19200}
    assert by_id["mirror-1"]["topic"] == "store/store-test/mirror/mirror-1/events"

    shown = cli("device", "show", "counter-1", "--json", *c)
    assert json.loads(shown.out)["port"] == "/dev/ttyUSB0"
    text = cli("device", "show", "counter-1", *c).out
    created = json.loads(shown.out)["created_at"]
    local = datetime.fromtimestamp(created).astimezone().isoformat(timespec="seconds")
    assert f"created_at       {local}" in text  # the engineer's clock, not an epoch float
    assert "None" not in text and "topic" not in text and "settings         baudrate=19200" in text
    table = cli("device", "list", *c)
    assert "counter-1" in table.out and "/dev/ttyUSB0" in table.out

    assert cli("device", "remove", "fob-1", *c).code == 0
    assert [d["id"] for d in json.loads(cli("device", "list", "--json", *c).out)] == ["counter-1", "mirror-1"]
    missing = cli("device", "show", "fob-1", *c)
    assert missing.code == 2 and "no device 'fob-1'" in missing.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--profile", "serial-people-counter"], "--port is required"),
        (["x", "--profile", "ibeacon-loyalty"], "--identifier is required"),
        (["x", "--profile", "ibeacon-loyalty", "--identifier", "not-a-uuid:1:2"], "is not UUID:major:minor"),
        (["x", "--profile", "ibeacon-loyalty", "--identifier", f"{UUID}:70000:1"], "0..65535"),
        (["x", "--profile", "eddystone-uid", "--identifier", "abc"], "namespace:instance in hex"),
        (["x", "--profile", "smart-mirror", "--port", "/dev/ttyS0"], "--port applies to serial devices"),
        (
            ["x", "--profile", "serial-people-counter", "--port", "/dev/ttyS0", "--set", "baudrate=1234"],
            "--set baudrate",
        ),
        (["x", "--profile", "serial-people-counter", "--port", "/dev/ttyS0", "--set", "colour=red"], "unknown setting"),
        (["x", "--profile", "serial-people-counter", "--port", "/dev/ttyS0", "--set", "novalue"], "expected key=value"),
        (["x", "--profile", "smart-mirror", "--zone", "attic"], "not a zone in the config"),
        (["bad id!", "--profile", "smart-mirror"], "device id"),
        (["x", "--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
    ],
)
def test_invalid_registrations_are_refused_clearly(cli, config_file: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("device", "add", *args, "--config", config_file)
    assert result.code == 2
    assert message in result.err
    assert json.loads(cli("device", "list", "--json", "--config", config_file).out) == []


def test_duplicates_are_refused(cli, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    c = ("--config", config_file)
    assert cli("device", "add", "m1", "--profile", "smart-mirror", *c).code == 0
    again = cli("device", "add", "m1", "--profile", "smart-mirror", *c)
    assert again.code == 2 and "device 'm1' already exists" in again.err
    assert cli("device", "add", "f1", "--profile", "ibeacon-loyalty", "--identifier", f"{UUID}:1:1", *c).code == 0
    same_tag = cli("device", "add", "f2", "--profile", "ibeacon-loyalty", "--identifier", f"{UUID}:1:1", *c)
    assert same_tag.code == 2 and "already registered as device 'f1'" in same_tag.err


def test_site_profile_in_data_dir_is_usable(cli, config_file: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (data_dir / "profiles").mkdir()
    (data_dir / "profiles" / "door-sensor.yaml").write_text(
        "name: door-sensor\nrole: sensor\ntransport: mqtt\ndecoder: json\nmqtt: {topic: 'site/{device_id}/state'}\n"
    )
    added = cli("device", "add", "door-1", "--profile", "door-sensor", "--json", "--config", config_file)
    assert added.code == 0
    assert json.loads(added.out)["topic"] == "site/door-1/state"
