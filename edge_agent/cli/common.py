"""Shared CLI plumbing: config resolution, JSON output, database access."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config.agent import AgentConfig, load_config, resolve_config_path
from ..config.profiles import ProfileRegistry
from ..store import Database, connect


def group(help: str, **options: Any) -> typer.Typer:
    """A command group with plain help: it reads the same in a terminal, a pager and a ticket, and
    typer's rich renderer labels every flag `<bool>` and wraps usage errors in boxes."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **options)


console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $EDGE_AGENT_CONFIG, else /etc/edge-agent/agent.yaml)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class State:
    """What the top-level callback resolved (a `--config` given before the subcommand)."""

    config_path: Path | None = None
    # The CLI is this process's entry point (the console script), so `run` may replace the process
    # with the daemon; called in-process (tests, benchmarks) it runs the agent in place.
    owns_process: bool = False


def get_config(path: Path | None) -> AgentConfig:
    return load_config(resolve_config_path(path or State.config_path))


@contextmanager
def open_store(config: AgentConfig) -> Iterator[Database]:
    """A migrated connection to the agent's database, closed afterwards."""
    conn = connect(config.db_path)
    try:
        yield conn
    finally:
        conn.close()


def profiles_for(config: AgentConfig) -> ProfileRegistry:
    return ProfileRegistry.load([config.data_dir / "profiles"])


def data_table(*headers: str, title: str | None = None) -> Table:
    """A table for data: long ids fold onto the next line instead of being cut."""
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def cells(*values: object) -> list[Text]:
    """Table cells from data: shown as typed (never read as rich markup), nothing for None."""
    return [Text("" if value is None else str(value)) for value in values]


def plain(text: str) -> Text:
    """A line with data in it, printed as typed."""
    return Text(text)


def local_time(ts: float) -> str:
    """A moment as the engineer's clock reads it: local ISO 8601 with its UTC offset."""
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def print_fields(data: dict[str, Any]) -> None:
    """`key  value` lines: times local ISO, mappings as key=value, nothing printed for None or empty."""
    for key, value in data.items():
        if value is None or value == {} or value == "":
            continue
        if key.endswith("_at") and isinstance(value, int | float):
            value = local_time(value) if value else ""
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:16} {value}".rstrip())


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
