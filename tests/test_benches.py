"""Every benchmark runs (`--quick`) and prints the keys docs/interface.md promises for it.

A benchmark nobody runs rots: a refactor breaks it and the README's figures can no longer be
reproduced. Each script starts what it needs on free loopback ports, so they run two at a time
(the machine's two cores; the first test to ask starts them all); only their shape is checked
here, never a figure (figures belong to the README).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
QUICK_LIMIT_S = 300  # `--quick` is a few seconds to a minute; this only stops a hung one
AT_ONCE = 2


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


def quick_run(script: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=QUICK_LIMIT_S,
    )  # fmt: skip


@pytest.fixture(scope="module")
def quick_runs() -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(AT_ONCE, thread_name_prefix="bench") as pool:
        runs = {}
        for script in SCRIPTS:
            (Path(tmp) / script).mkdir()
            runs[script] = pool.submit(quick_run, script, Path(tmp) / script)
        yield runs


@pytest.mark.timeout(QUICK_LIMIT_S * len(SCRIPTS) // AT_ONCE)  # the first one waits for its turn in the pool
@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_prints_its_documented_keys(
    script: str, quick_runs: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    run = quick_runs[script].result()
    assert run.returncode == 0, run.stderr[-4000:]
    last = run.stdout.strip().splitlines()[-1]
    figures = json.loads(last)
    assert isinstance(figures, dict)
    missing = [key for key in KEYS[script] if key not in figures]
    assert not missing, f"{script} printed {sorted(figures)}"
    assert all(figures[key] is not None for key in KEYS[script]), figures
