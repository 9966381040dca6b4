"""Every benchmark runs (`--quick`) and prints the keys docs/interface.md promises for it.

A benchmark nobody runs rots: a refactor breaks it and the README's figures can no longer be
reproduced. Each script starts what it needs on free loopback ports, so they run beside the rest
of the suite; only their shape is checked here, never a figure (figures belong to the README).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
QUICK_LIMIT_S = 300  # `--quick` is a few seconds to a minute; this only stops a hung one


def documented_keys() -> dict[str, list[str]]:
    """`bench/NAME.py` → the keys its row lists (parenthesised variants are not required)."""
    text = (ROOT / "docs" / "interface.md").read_text()
    section = text.split("## Benchmarks", 1)[1]
    rows: dict[str, list[str]] = {}
    for script, keys in re.findall(r"^\| `bench/([a-z_]+\.py)` \| (.*) \|$", section, re.MULTILINE):
        required = re.sub(r"\([^)]*\)", "", keys)
        rows[script] = re.findall(r"`([a-z0-9_]+)`", required)
    return rows


KEYS = documented_keys()


def test_every_script_is_documented_with_its_keys() -> None:
    assert sorted(KEYS) == SCRIPTS
    assert all(KEYS[script] for script in SCRIPTS), "a row without keys checks nothing"


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_prints_its_documented_keys(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=QUICK_LIMIT_S,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    last = run.stdout.strip().splitlines()[-1]
    figures = json.loads(last)
    assert isinstance(figures, dict)
    missing = [key for key in KEYS[script] if key not in figures]
    assert not missing, f"{script} printed {sorted(figures)}"
    assert all(figures[key] is not None for key in KEYS[script]), figures
