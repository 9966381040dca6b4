"""`doctor` says where companions vote and whether friends elsewhere can be reached (SPEC §16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.testing.config import write_config


@pytest.mark.parametrize(
    ("social", "uplink", "level", "says"),
    [
        ({}, {"kind": "off"}, "ok", "friends elsewhere are off"),
        ({"public_url": "http://10.0.0.5:8080"}, {"kind": "off"}, "ok", "companions vote at http://10.0.0.5:8080"),
        ({"remote_url": "https://friends.example"}, {"kind": "off"}, "warn", "only companions vote"),
        ({"remote_url": "https://friends.example"}, {"kind": "mqtt"}, "ok", "through https://friends.example"),
    ],
)
def test_doctor_says_who_can_vote(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, social: dict[str, str], uplink: dict[str, str], level: str, says: str
) -> None:
    config = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", social=social, uplink=uplink)
    result = cli("doctor", "--json", "--config", config)
    (check,) = [c for c in json.loads(result.out) if c["name"] == "sharing"]
    assert check["level"] == level and says in check["detail"], check
