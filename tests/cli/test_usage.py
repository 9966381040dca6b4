"""Usage mistakes through the installed `edge-agent` entry point: exit 2, click's usage message,
never a traceback — with whatever typer/click versions the pins install (CI takes the newest)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from edge_agent.cli import app

ENTRY = shutil.which("edge-agent") or str(Path(sys.executable).with_name("edge-agent"))


def commands() -> list[list[str]]:
    """Every command path of the CLI, e.g. ['device', 'add']."""
    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(group: object, path: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            if getattr(command, "commands", None):
                walk(command, [*path, name])
            else:
                out.append([*path, name])

    walk(root, [])
    return out


async def run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        ENTRY, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def all_of(calls: list[list[str]]) -> list[tuple[list[str], tuple[int, str, str]]]:
    limit = asyncio.Semaphore(4)

    async def one(args: list[str]) -> tuple[list[str], tuple[int, str, str]]:
        async with limit:
            return args, await run(*args)

    return list(await asyncio.gather(*(one(a) for a in calls)))


def test_the_cli_has_the_commands_of_the_spec() -> None:
    names = {" ".join(c) for c in commands()}
    for expected in ("init", "run", "demo", "status", "doctor", "device add", "device scan", "profile validate",
                     "customer import", "customer forget", "customer consent", "offer import", "product list",
                     "insights", "model score", "sync now"):  # fmt: skip
        assert expected in names


@pytest.mark.skipif(not Path(ENTRY).exists(), reason="the entry point is not installed")
async def test_every_command_refuses_an_unknown_option_with_usage_and_exit_2() -> None:
    results = await all_of([[*c, "--no-such-option"] for c in commands()] + [["no-such-command"]])
    for args, (code, out, err) in results:
        assert code == 2, (args, out, err)
        assert "Traceback" not in out + err, args
        assert "Usage:" in err and "Error:" in err, (args, err)


@pytest.mark.skipif(not Path(ENTRY).exists(), reason="the entry point is not installed")
async def test_missing_and_invalid_arguments_are_usage_errors() -> None:
    cases = [
        ["customer", "show"],
        ["customer", "forget"],
        ["device", "add", "x"],
        ["model", "score"],
        ["insights", "--days", "0"],
        ["insights", "--days", "abc"],
        ["demo", "--speed", "0"],
        ["profile", "validate"],
    ]
    for args, (code, out, err) in await all_of(cases):
        assert code == 2 and "Traceback" not in out + err, (args, err)
        assert err.count("Error:") == 1, (args, err)


@pytest.mark.skipif(not Path(ENTRY).exists(), reason="the entry point is not installed")
async def test_with_json_a_usage_error_is_json() -> None:
    for args, (code, out, err) in await all_of(
        [["device", "remove", "door-1", "--json"], ["insights", "--days", "0", "--json"]]
    ):
        assert code == 2 and "Traceback" not in out + err, args
        assert "error" in json.loads(out), (args, out)


async def test_every_help_reads_plainly() -> None:
    """Flags read as flags (no `<bool>` value to type), no rich boxes, one usage line first."""
    results = await all_of([[*c, "--help"] for c in [[], *commands()]])
    for args, (code, out, err) in results:
        assert code == 0 and err == "", (args, err)
        assert out.startswith(f"Usage: edge-agent {' '.join(args[:-1])}".rstrip()), (args, out[:200])
        assert "<bool>" not in out and "╭" not in out, (args, out)


def test_run_loads_only_what_running_needs() -> None:
    """`edge-agent run` builds the CLI with its own command: no catalog, scan or model commands,
    no Modbus or bleak (they load when a configured source starts), no training libraries."""
    probe = (
        "import sys\n"
        "from edge_agent.cli import asked, build_app\n"
        "app = build_app(asked(['--config', 'x.yaml', 'run']))\n"
        "import edge_agent.runtime.agent, edge_agent.sources.build\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert "edge_agent.cli.daemon" in loaded
    unwanted = {"edge_agent.cli.customers", "edge_agent.cli.devices", "edge_agent.cli.models", "edge_agent.field.scan"}
    assert loaded.isdisjoint(unwanted | {"pymodbus", "bleak", "sklearn", "skl2onnx"}), loaded & unwanted


@pytest.mark.parametrize("command", ["run", "doctor"])
async def test_a_store_id_with_a_dot_stops_run_and_doctor_with_one_line(command: str, tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    code, _, _ = await run("init", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert code == 0
    config.write_text(config.read_text().replace("store_id: store-0001", "store_id: store.0001"))
    code, out, err = await run(command, "--config", str(config))
    assert code == 2
    (line,) = [x for x in (out + err).splitlines() if x.strip()]
    assert "store_id: 'store.0001' has a '.'" in line and "Traceback" not in err
