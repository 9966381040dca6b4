"""House rules that keep the package readable, checked on every run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "edge_agent"
SQL = re.compile(r"""["'](SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA) |\.execute(many)?\(""")


def modules(*, exclude: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not any(p.is_relative_to(PACKAGE / e) for e in exclude)]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_product_code_never_imports_the_test_helpers() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in modules(exclude=("testing",))
        if any(n == "edge_agent.testing" or n.startswith("edge_agent.testing.") for n in imported_modules(p))
    ]
    assert offenders == []


def test_sql_lives_in_store_only() -> None:
    """The box's SQL in `store/`; the chain's landing database in `fleet/store.py`."""
    exclude = ("store", "fleet/store.py")
    offenders = [str(p.relative_to(PACKAGE)) for p in modules(exclude=exclude) if SQL.search(p.read_text())]
    assert offenders == []


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = [
        f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}"
        for p in modules()
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60  # type: ignore[operator]
    ]
    assert long == []


def test_the_import_rule_sees_a_violation() -> None:
    """The checker itself: a module importing edge_agent.testing is caught, relative or absolute."""
    sample = PACKAGE / "runtime" / "agent.py"
    assert "edge_agent.runtime.build" in imported_modules(sample)


def test_few_modules_lie_loose_at_the_package_root() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(loose) <= 5, loose


def test_the_test_helpers_sit_below_the_runtime() -> None:
    """`edge_agent.testing` drives an agent it is given; it never imports the runtime itself."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in modules()
        if p.is_relative_to(PACKAGE / "testing")
        and any(n == "edge_agent.runtime" or n.startswith("edge_agent.runtime.") for n in imported_modules(p))
    ]
    assert offenders == []


def test_components_are_read_through_their_status_only() -> None:
    """The runtime assembles and reads components: never by `getattr`, always through a typed interface."""
    offenders = [
        f"{p.relative_to(PACKAGE)}:{node.lineno}"
        for p in sorted((PACKAGE / "runtime").rglob("*.py"))
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
    ]
    assert offenders == [], "read a component through status(), a protocol, or a typed field instead"


def test_data_flows_one_way_nothing_in_the_agent_imports_the_simulators() -> None:
    """`sim/` (the simulators the demo and the tests share) sits above the agent, never below it."""
    below = ("core", "config", "beacons", "mirror", "links", "sources", "decoders", "presence", "scoring", "learning",
             "aggregation", "social", "store", "sinks", "uplink", "web", "runtime")  # fmt: skip
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in modules()
        if any(p.is_relative_to(PACKAGE / layer) for layer in below)
        and any(n == "edge_agent.sim" or n.startswith("edge_agent.sim.") for n in imported_modules(p))
    ]
    assert offenders == []


def test_the_simulators_stand_in_for_the_world_and_never_drive_the_agent() -> None:
    """The demo (`edge_agent/demo.py`, an application beside the CLI) runs the agent and reads it
    through public interfaces; the simulators it shares with the tests never import the runtime."""
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in modules()
        if p.is_relative_to(PACKAGE / "sim")
        and any(n == "edge_agent.runtime" or n.startswith("edge_agent.runtime.") for n in imported_modules(p))
    ]
    assert offenders == []
    demo = (PACKAGE / "demo.py").read_text()
    assert "agent.runtime" not in demo, "the demo reads the agent through its public face (/api, status, stats)"


def test_only_the_store_opens_sqlite() -> None:
    """Presence, scoring, learning, the mirror kinds, friends' advice, aggregation, decoders and sinks
    decide on domain objects they ask `store/` protocols (Customers, Offers, Profiles) for; the web
    API, the uplink and the sources ask `store/` objects (StoredAlerts, OutboxReader, the device
    registry). Where a connection is passed along (the runtime's wiring, the CLI, the field tools)
    it is the store's handle, `store.Database`, queried only by the functions in `store/`."""
    offenders = [
        str(p.relative_to(PACKAGE)) for p in modules(exclude=("store", "testing")) if "sqlite3" in imported_modules(p)
    ]
    assert offenders == []


def test_cards_travel_typed_and_become_json_only_where_they_are_rendered() -> None:
    """The staff card, its changes and the friends' look cards are frozen dataclasses from the
    handler to the sink; a `dict[str, Any]` appears only in a `to_json`/`stored` of their own."""
    card_path = ["sinks/tablets.py", "sinks/social.py", "runtime/ports.py"]
    offenders = [path for path in card_path if "dict[str, Any]" in (PACKAGE / path).read_text()]
    assert offenders == []
    for node in ast.walk(ast.parse((PACKAGE / "core/cards.py").read_text())):
        if isinstance(node, ast.FunctionDef) and "dict[str, Any]" in ast.unparse(node.returns or node.args):
            assert node.name in {"to_json", "stored"}, f"core/cards.py: {node.name} speaks in dicts"
