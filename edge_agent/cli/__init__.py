"""The `edge-agent` command line."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from ..core.errors import exit_code, one_line
from .common import State, err_console, group

# Command → (module, attribute); groups are sub-apps. A command's module is imported only when it
# is the command asked for: `edge-agent run` does not load the catalog, scan or model commands
# (nor what they import). `--help` and an unknown command load them all.
GROUPS = {
    "device": ("devices", "app"),
    "profile": ("profiles", "app"),
    "customer": ("customers", "customers"),
    "offer": ("customers", "offers"),
    "product": ("customers", "products"),
    "model": ("models", "app"),
    "sync": ("sync", "app"),
    "fleet": ("fleet", "app"),
}
COMMANDS = {
    "init": ("daemon", "init"),
    "run": ("daemon", "run"),
    "status": ("daemon", "status"),
    "demo": ("daemon", "demo"),
    "doctor": ("doctor", "doctor"),
    "insights": ("insights", "insights"),
    "relay": ("relay", "relay"),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with just `only` (when it names one)."""
    cli = group(
        "Offline-first retail edge gateway.", name="edge-agent", pretty_exceptions_enable=False, add_completion=False
    )
    cli.callback()(_root)
    wanted = {only} if only in GROUPS or only in COMMANDS else {*GROUPS, *COMMANDS}
    for name, (module, attr) in GROUPS.items():
        if name in wanted:
            cli.add_typer(getattr(importlib.import_module(f".{module}", __name__), attr), name=name)
    for name, (module, attr) in COMMANDS.items():
        if name in wanted:
            cli.command(name=name)(getattr(importlib.import_module(f".{module}", __name__), attr))
    return cli


def asked(args: list[str]) -> str | None:
    """The command named on the line, past the root options (`--config FILE`, `--version`)."""
    rest = iter(args)
    for arg in rest:
        if arg in ("--config", "-c"):
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edge-agent {__version__}")
        raise typer.Exit()


def _root(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file for every subcommand.")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    State.config_path = config


def _click_classes(name: str, *fallback: type[BaseException]) -> tuple[type[BaseException], ...]:
    """typer's click exceptions by name, whichever click it uses: its own vendored copy (typer
    0.16+) or the `click` package (older typer) — a usage error must never become a traceback."""
    found = {cls for cls in type.mro(typer.BadParameter) if cls.__name__ == name}
    try:
        import click

        found.add(getattr(click.exceptions, name))
    except ImportError:
        pass
    return tuple(found | set(fallback))


CLICK_ERRORS = _click_classes("ClickException")
ABORTS = _click_classes("Abort", typer.Abort)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one readable line per error, never a traceback."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = build_app(asked(args))(args=args, standalone_mode=False)
    except ABORTS:
        return _fail(args, "aborted", 1)
    except CLICK_ERRORS as exc:
        if "--json" in args:
            return _fail(args, exc.format_message(), exc.exit_code)  # type: ignore[attr-defined]
        exc.show()  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise
        return _fail(args, one_line(exc), code)
    return result if isinstance(result, int) else 0


def _fail(args: list[str], message: str, code: int) -> int:
    if "--json" in args:
        typer.echo(json.dumps({"error": message}))
    else:
        err_console.print(f"error: {message}", highlight=False, soft_wrap=True, markup=False)
    return code


def run_main() -> None:
    State.owns_process = True
    sys.exit(main())


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole CLI, for tools and tests that walk it
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
