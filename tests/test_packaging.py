"""`pip install .` carries every subpackage, the shipped profiles, models and web pages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
# The fixtures (crash harness with paho threads, a D-Bus/BlueZ mock, a strict stand-in broker) serve
# the suite and the benchmarks from a checkout; a box's wheel leaves them out.
NOT_SHIPPED = {"edge_agent.testing"}


def test_every_package_is_listed_for_setuptools() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "edge_agent").rglob("__init__.py")}
    assert on_disk - NOT_SHIPPED <= listed, f"missing from pyproject packages: {sorted(on_disk - listed)}"
    assert not NOT_SHIPPED & listed, "the test fixtures never ship to a box"
    assert config["exclude-package-data"]["edge_agent"] == ["testing/*"]  # nor as package data
    assert config["package-dir"] == {
        "edge_agent.device_profiles": "device_profiles",
        "edge_agent.models": "models",
        "edge_agent.fleet.migrations": "deploy/cloud/migrations",
    }
    data = config["package-data"]
    assert "*.yaml" in data["edge_agent.device_profiles"] and "*.onnx" in data["edge_agent.models"]
    assert "static/*" in data["edge_agent.web"]


def test_the_box_installs_nothing_of_the_chains_side() -> None:
    """psycopg, nats-py and statsmodels come with the `fleet` extra only: a box's install is unchanged."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    box = " ".join(project["dependencies"]).lower()
    assert not any(name in box for name in ("psycopg", "nats", "statsmodels", "scipy"))
    assert {"psycopg", "nats-py", "statsmodels"} <= {
        d.split("[")[0].split(">")[0] for d in project["optional-dependencies"]["fleet"]
    }


def test_the_box_publishes_on_paho_and_installs_no_second_mqtt_client() -> None:
    """aiomqtt is the tests' independent peer only; the agent's own client sits on paho's public API."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    box = " ".join(project["dependencies"]).lower()
    assert "paho-mqtt" in box and "aiomqtt" not in box
    assert any(d.startswith("aiomqtt") for d in project["optional-dependencies"]["test"])
    shipped = [p for p in (ROOT / "edge_agent").rglob("*.py") if "testing" not in p.parts]
    assert not [str(p) for p in shipped if re.search(r"^\s*(import|from) aiomqtt", p.read_text(), re.M)]
