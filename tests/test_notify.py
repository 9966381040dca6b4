"""The daemon tells systemd READY=1 and feeds WATCHDOG=1 on a notify socket made by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from edge_agent.testing.config import write_config


def test_ready_and_watchdog_on_the_notify_socket(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "agent.yaml",
        data_dir=tmp_path / "data",
        mqtt={"url": "mqtt://127.0.0.1:1"},
        ble={"remote_scanners": False},
    )
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            messages: list[str] = []
            while not any("WATCHDOG=1" in m for m in messages):
                messages.append(sock.recv(1024).decode())
            assert messages[0].startswith("READY=1")
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in messages[-1]:
                messages.append(sock.recv(1024).decode())
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
