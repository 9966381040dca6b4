"""The `edge-agent` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from .. import __version__
from ..core.errors import CatalogError, ConfigError, DeviceError, EdgeAgentError, ProfileError
from . import customers, daemon, devices, doctor, insights, models, profiles, sync
from .common import State, err_console

app = typer.Typer(
    name="edge-agent",
    help="Offline-first retail edge gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(devices.app, name="device")
app.add_typer(profiles.app, name="profile")
app.add_typer(customers.customers, name="customer")
app.add_typer(customers.offers, name="offer")
app.add_typer(customers.products, name="product")
app.add_typer(models.app, name="model")
app.add_typer(sync.app, name="sync")
app.command()(daemon.init)
app.command()(daemon.run)
app.command()(daemon.status)
app.command()(daemon.demo)
app.command()(doctor.doctor)
app.command()(insights.insights)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edge-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file for every subcommand.")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    State.config_path = config


# Errors a user can fix by changing their input: exit code 2 (bad usage or config).
USAGE_ERRORS = (ConfigError, ProfileError, DeviceError, CatalogError)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one readable line per error, never a traceback."""
    try:
        result = app(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except USAGE_ERRORS as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        return 2
    except EdgeAgentError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        return 1
    return result if isinstance(result, int) else 0


def run_main() -> None:
    sys.exit(main())
