"""A data dir or config the box cannot use is one line naming the path and the cause, for every
command: exit 2 for the configuration, 1 for the environment — never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent.testing.config import write_config

COMMANDS = [
    ["run"],
    ["customer", "list"],
    ["customer", "import", "customers.csv"],
    ["offer", "list"],
    ["product", "list"],
    ["device", "list"],
    ["sync", "status"],
    ["insights"],
    ["model", "score", "--customer", "c-1"],
]


@pytest.fixture(params=["in-proc", "a-file", "read-only"])
def unusable(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "in-proc":
        return Path("/proc/edge-agent-data")
    if request.param == "a-file":
        path = tmp_path / "a-file"
        path.write_text("not a folder")
        return path / "data"
    if os.geteuid() == 0:
        pytest.skip("root writes through file modes")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder / "data"


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_an_unusable_data_dir_is_one_line(cli, tmp_path: Path, unusable: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "customers.csv").write_text("customer_id\nc-1\n")
    config = write_config(tmp_path / "agent.yaml", data_dir=unusable)
    args = [a if a != "customers.csv" else str(tmp_path / "customers.csv") for a in command]
    result = cli(*args, "--config", config)
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err + result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and str(unusable.parent) in lines[0] and "data_dir" in lines[0], lines


def test_doctor_says_the_data_dir_cannot_be_created(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "agent.yaml", data_dir=Path("/proc/edge-agent-data"))
    result = cli("doctor", "--config", config)
    assert result.code == 1 and "FAIL data dir: /proc/edge-agent-data: cannot create or write it" in result.out
    assert "created on first start" not in result.out


@pytest.mark.parametrize("problem", ["missing", "a-directory", "unreadable-yaml"])
def test_an_unusable_config_is_exit_2(cli, tmp_path: Path, problem: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agent.yaml"
    if problem == "a-directory":
        path.mkdir()
    elif problem == "unreadable-yaml":
        path.write_bytes(b"\xff\xfe not yaml")
    result = cli("customer", "list", "--config", path)
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1 and str(path) in result.err
