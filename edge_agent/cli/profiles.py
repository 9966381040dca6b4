"""`edge-agent profile list|show|validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from ..config.agent import load_config, resolve_config_path
from ..config.profiles import ProfileRegistry, load_profile
from ..core.errors import ConfigError
from .common import ConfigOpt, JsonOpt, State, cells, console, data_table, group, print_json

app = group("Device profiles: what kinds of device this agent understands.")


def _registry(config: Path | None) -> ProfileRegistry:
    """Shipped profiles plus the site's, if a config can be found (profiles work without one)."""
    try:
        cfg = load_config(resolve_config_path(config or State.config_path))
    except ConfigError:
        if config or State.config_path:
            raise
        return ProfileRegistry.load()
    return ProfileRegistry.load([cfg.data_dir / "profiles"])


@app.command("list")
def list_(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List shipped and site-specific profiles."""
    entries = _registry(config).all()
    if as_json:
        print_json(
            [
                {
                    "name": p.name,
                    "transport": p.transport,
                    "decoder": p.decoder,
                    "role": p.role,
                    "description": p.description,
                    "path": str(path),
                }
                for p, path in entries
            ]
        )
        return
    table = data_table("name", "transport", "decoder", "role", "description")
    for p, _ in entries:
        table.add_row(*cells(p.name, p.transport, p.decoder, p.role, p.description))
    console.print(table)


@app.command()
def show(name: str, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show one profile in full."""
    profile = _registry(config).get(name)
    data = profile.model_dump(mode="json", exclude_none=True, by_alias=True)
    if as_json:
        print_json(data)
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Profile YAML file to check.")]) -> None:
    """Check a profile file; errors name the line and the key."""
    profile = load_profile(file)
    typer.echo(
        f"{file}: ok ({profile.name}, {profile.transport}/{profile.decoder}, {len(profile.resources)} resources)"
    )
