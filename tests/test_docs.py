"""The public interface is documented inside the repository, and the documents link nothing outside it."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from edge_agent.config.agent import AgentConfig

ROOT = Path(__file__).parents[1]
INTERFACE = (ROOT / "docs" / "interface.md").read_text()


def config_keys(model: type[BaseModel] = AgentConfig, prefix: str = "") -> list[tuple[str, str]]:
    """(section, key) of every config key: ('', 'store_id'), ('mqtt', 'url'), ('mqtt', 'tls') …"""
    keys: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        keys.append((prefix, name))
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel) and not prefix:
            keys += config_keys(inner, name)
    return keys


def first_cells(heading: str) -> list[str]:
    section = INTERFACE.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [re.split(r"(?<!\\)\|", line)[1] for line in section.splitlines() if line.startswith("| `")]


def test_every_config_key_is_documented() -> None:
    cells = first_cells("Configuration")
    missing = []
    for section, key in config_keys():
        if section == "":
            found = any(f"`{key}`" in c or f"`{key}." in c for c in cells)
        else:
            found = any(f"`{section}." in c and re.search(rf"[`./{{,]{key}[`,./}}]", c) for c in cells)
        if not found:
            missing.append(f"{section}.{key}".strip("."))
    assert missing == []


def test_every_command_is_documented() -> None:
    from tests.cli.test_usage import commands

    cells = " ".join(first_cells("Commands"))
    for command in commands():
        assert re.search(rf"edge-agent {command[0]}\b", cells), command
        if len(command) > 1:
            assert command[1] in cells, command


def test_the_documents_link_nothing_outside_the_repository() -> None:
    for doc in (ROOT / "README.md", ROOT / "SECURITY.md", *(ROOT / "docs").glob("*.md")):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if target.startswith(("http://", "https://")):
                raise AssertionError(f"{doc.name} links outside: {target}")
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{doc.name}: {target}"


def test_every_anchor_in_the_interface_leads_somewhere() -> None:
    headings = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", INTERFACE, re.M)}  # fmt: skip
    for anchor in re.findall(r"\]\(#([^)]+)\)", INTERFACE):
        assert anchor in headings, anchor


def test_the_learning_bench_prints_the_documented_keys() -> None:
    import json
    import subprocess
    import sys

    row = next(c for c in INTERFACE.splitlines() if c.startswith("| `bench/learning.py`"))
    keys = set(re.findall(r"`(\w+)`", row.split("|")[2]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "learning.py"), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert keys <= set(figures), keys - set(figures)
    assert 0 < figures["accept_rate_refreshed"] <= 1 and figures["learning_vs_bayes"] > 0


def test_every_metric_is_documented_with_who_stands_behind_it() -> None:
    from edge_agent.aggregation.rollup import NOT_PERSONAL, PERSON_METRICS

    section = INTERFACE.split("## Aggregate metrics\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        if len(cells) > 4:
            rows |= dict.fromkeys(re.findall(r"`(\w+)`", cells[1]), cells[-2])
    for metric in PERSON_METRICS | (NOT_PERSONAL - {"uplink_dropped_batches"}):
        assert metric in rows, metric
        assert ("not about people" in rows[metric]) == (metric in NOT_PERSONAL), metric


def test_every_test_security_md_names_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    for path, _, name in re.findall(r"`(tests/[\w/]+(?:\.py)?)(::(\w+))?`", text):
        target = ROOT / path
        assert target.exists(), path
        if name:
            assert re.search(rf"def {name}\(", target.read_text()), f"{path}::{name}"
