"""`edge-agent demo` runs a living store on embedded defaults and stops by itself with --duration."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_a_simulated_store() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "demo", "--speed", "20", "--duration", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "staff token:" in out and "tablet page: http://" in out
    assert "ALERT" in out and "entered entrance" in out
    assert "Not Consented" not in out  # a customer without consent is never recognised
    assert "stopped:" in out
    assert "Traceback" not in proc.stderr
