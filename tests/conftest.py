"""Shared fixtures: a real mosquitto per test, temp data dirs, config files, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from edge_agent.cli import main
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.testing.config import write_config

settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile("ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def mqtt_broker() -> Iterator[MosquittoBroker]:
    """A real mosquitto on a free loopback port; `stop()`, `start()`, `restart()` keep the port."""
    with MosquittoBroker() as broker:
        yield broker


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def config_file(tmp_path: Path, data_dir: Path) -> Path:
    return write_config(tmp_path / "agent.yaml", data_dir=data_dir)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `edge-agent ARGS...` in-process; returns exit code, stdout and stderr."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


# The longest modules start first, so that two workers (`make test`) finish together instead of
# one waiting out the kill test at the end. Order within a module is kept.
LONGEST_FIRST = (
    "tests/test_crash.py",
    "tests/test_dates.py",
    "tests/test_brokers.py",
    "tests/web/test_browser.py",
    "tests/test_demo.py",
    "tests/test_benches.py",
    "tests/test_faults.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: everything else keeps its order
