"""The process that `edge-agent run` becomes: the agent, without the command line.

The command line is typer, click and rich — about 5 MB of private memory that a daemon never uses
again once its options are parsed, on a box with 512 MB for everything. So `edge-agent run` checks
its options and config and then replaces itself (`os.execv`: the same PID for systemd, signals and
`NOTIFY_SOCKET`) with `python -m edge_agent.runtime.daemon`, which imports only the pipeline.
Errors are the CLI's: one line on stderr, exit 2 for the configuration, 1 for the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from ..core.errors import exit_code, one_line
from ..core.logs import LogFormat


@dataclass(frozen=True, slots=True)
class RunOptions:
    """`edge-agent run`'s options, once the CLI has checked them: declared here once, this
    module's command line is written and read from these fields."""

    config: Path
    log_format: LogFormat = "text"
    simulate: Path | None = None
    speed: float = 1.0

    def argv(self) -> list[str]:
        """This module's command line for these options (the interpreter's own -X/-W flags kept)."""
        flags = [f"-X{k}" if v is True else f"-X{k}={v}" for k, v in sys._xoptions.items()]
        line = [sys.executable, *flags, *(f"-W{w}" for w in sys.warnoptions), "-m", __name__]
        for name, value in asdict(self).items():
            if value is not None:
                line += [_flag(name), repr(value) if isinstance(value, float) else str(value)]
        return line

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> RunOptions:
        parser = argparse.ArgumentParser(prog="edge-agent run", description="Started by `edge-agent run`.")
        hints = get_type_hints(cls)
        for option in fields(cls):
            kind = hints[option.name]
            convert = next((t for t in get_args(kind) if t is not type(None)), kind)  # X | None -> X
            choices = get_args(kind) if get_origin(kind) is Literal else None
            required = option.default is MISSING
            default = None if required else option.default
            parser.add_argument(_flag(option.name), type=str if choices else convert, choices=choices,
                                required=required, default=default)  # fmt: skip
        return cls(**vars(parser.parse_args(argv)))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def become(options: RunOptions) -> None:
    """Replace this process with the daemon (never returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = options.argv()
    os.execv(argv[0], argv)


def serve(options: RunOptions) -> None:
    """Run the agent in this process until SIGTERM or Ctrl-C."""
    from ..config.agent import load_config
    from ..core.logs import setup_logging
    from ..sources.ble.scenario import SimulatedBleSource, load_scenario
    from ..sources.build import build_sources
    from ..store.devices import registered_devices
    from .agent import Agent

    cfg = load_config(options.config)
    setup_logging(options.log_format)
    sources = build_sources(cfg, registered_devices(cfg.db_path), radio=options.simulate is None)
    if options.simulate is not None:
        sources.append(SimulatedBleSource(load_scenario(options.simulate), speed=options.speed))
    run_until_signal(Agent(cfg, sources).run)


def dump_tasks() -> None:
    """SIGUSR1: write every task's stack to stderr (for a daemon that seems stuck)."""
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


def run_until_signal(main: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> None:
    """Run `main(stop)` until it returns; SIGTERM and SIGINT set `stop` for a graceful end."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
        await main(stop)

    asyncio.run(runner())


def main(argv: list[str] | None = None) -> int:
    options = RunOptions.parse(argv)
    try:
        serve(options)
    except Exception as exc:
        code = exit_code(exc)
        if code is None:
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
