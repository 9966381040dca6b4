"""`edge-agent run` checks its options and becomes the daemon: the same process, without the command
line's libraries; the daemon's own errors read like the CLI's."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from edge_agent.config.agent import load_config
from edge_agent.runtime.control import query_status
from edge_agent.testing.config import write_config
from edge_agent.testing.wait import wait_until

COMMAND_LINE = {"typer", "click", "rich", "shellingham"}
NOT_CONFIGURED = {"pymodbus", "bleak", "serial", "sklearn", "skl2onnx", "sqlite_utils"}


def imported_after_exec(stderr: str) -> set[str]:
    """Modules `-X importtime` saw imported by the last interpreter start (the daemon's)."""
    lines = [line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")]
    starts = [i for i, module in enumerate(lines) if module == "site"]
    assert len(starts) >= 2, "the process never replaced itself"
    return {module.split(".")[0] for module in lines[starts[-1] :]} | set(lines[starts[-1] :])


def test_run_replaces_itself_with_a_daemon_that_loads_no_command_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", ble={"remote_scanners": False})
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "edge_agent", "run", "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        socket = load_config(path).socket_path
        wait_until(lambda: (query_status(socket) or {}).get("running") is True, within=60)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"edge_agent.runtime.daemon" in cmdline and b"-Ximporttime" in cmdline, cmdline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    loaded = imported_after_exec(log.read_text())
    assert {"edge_agent.runtime.agent", "paho.mqtt.client", "aiohttp"} <= loaded
    assert "aiomqtt" not in loaded  # the tests' MQTT client, never the box's
    assert loaded.isdisjoint(COMMAND_LINE | NOT_CONFIGURED), loaded & (COMMAND_LINE | NOT_CONFIGURED)


def test_a_config_gone_bad_before_the_daemon_starts_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "agent.yaml"
    bad.write_text("store_id: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent.runtime.daemon", "--config", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_an_unusable_data_dir_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "a-file" / "data")
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent.runtime.daemon", "--config", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "a-file" in done.stderr and done.stderr.count("\n") == 1


def test_the_daemons_command_line_is_written_and_read_from_one_declaration(tmp_path: Path) -> None:
    from edge_agent.runtime.daemon import RunOptions

    for options in (
        RunOptions(tmp_path / "agent.yaml"),
        RunOptions(tmp_path / "agent.yaml", "json", tmp_path / "walk.yaml", 12.5),
    ):
        argv = options.argv()
        assert argv[argv.index("-m") + 1] == "edge_agent.runtime.daemon"
        assert RunOptions.parse(argv[argv.index("-m") + 2 :]) == options
    assert "--simulate" not in RunOptions(tmp_path / "a.yaml").argv()  # nothing is passed that was not given
