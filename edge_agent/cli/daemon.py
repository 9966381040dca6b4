"""`edge-agent init|run|status|demo`."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config.agent import generated_secrets, load_config, render_config, resolve_config_path
from ..core.errors import ConfigError
from ..core.logs import LogFormat, setup_logging
from ..field.credentials import AGENT_USER, grant_agent
from ..runtime.control import query_status
from .common import ConfigOpt, JsonOpt, State, console, get_config, print_json

LogFormatOpt = Annotated[str, typer.Option("--log-format", help="text or json.", case_sensitive=False)]


def _log_format(value: str) -> LogFormat:
    if value not in ("text", "json"):
        raise typer.BadParameter("expected 'text' or 'json'", param_hint="--log-format")
    return "json" if value == "json" else "text"


def init(
    config: ConfigOpt = None,
    store_id: Annotated[str, typer.Option(help="This store's id, e.g. store-0042.")] = "store-0001",
    data_dir: Annotated[Path, typer.Option(help="Where the database and outbox live.")] = Path("/var/lib/edge-agent"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config.")] = False,
    broker_credentials: Annotated[
        bool, typer.Option("--broker-credentials", help="Also create the agent's own store-broker user and ACL.")
    ] = False,
    rotate_staff_token: Annotated[
        bool,
        typer.Option(
            "--rotate-staff-token", help="Only replace the staff token in an existing config (ends sessions)."
        ),
    ] = False,
) -> None:
    """Write a commented config with a fresh salt, staff token and check-in key (mode 0600)."""
    path = resolve_config_path(config or State.config_path)
    if rotate_staff_token:
        _rotate_staff_token(path)
        return
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists; use --force to overwrite (the secrets in it will change)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_config(store_id, data_dir)
    if broker_credentials:
        password = secrets.token_urlsafe(18)
        text = text.replace(
            "  username: null\n  password: null\n", f'  username: {AGENT_USER}\n  password: "{password}"\n'
        )
    _write_private(path, text)
    if broker_credentials:
        cfg = load_config(path)
        grant_agent(cfg, cfg.mqtt.password)
    typer.echo(f"wrote {path} (mode 0600); next: edge-agent doctor --config {path}")


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a 0600 file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _rotate_staff_token(path: Path) -> None:
    old = load_config(path).http.staff_token
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise ConfigError(f"{path}: http.staff_token: cannot find the token once in the file; edit it by hand")
    new = generated_secrets()["staff_token"]
    _write_private(path, text.replace(old, new))
    typer.echo(
        f"new staff token in {path}: {new}\nrestart the agent (systemctl restart edge-agent); tablets sign in again"
    )


def run(
    config: ConfigOpt = None,
    log_format: LogFormatOpt = "text",
    simulate: Annotated[
        Path | None, typer.Option(help="Replay a BLE scenario file instead of listening to the radio.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Time compression for --simulate.", min=0.01)] = 1.0,
) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C."""
    from ..runtime.daemon import RunOptions, become, serve

    path = resolve_config_path(config or State.config_path)
    options = RunOptions(path, _log_format(log_format), simulate, speed)
    load_config(path)  # a bad config or scenario is the CLI's usage error, before the process changes
    if simulate is not None:
        from ..sources.ble.scenario import load_scenario

        load_scenario(simulate)
    if State.owns_process:
        become(options)  # the daemon without typer, click and rich (runtime/daemon.py says why)
    serve(options)


def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show the running agent's state: sources, counts, last event per device."""
    cfg = get_config(config)
    snap = query_status(cfg.socket_path)
    if snap is None:
        if as_json:
            print_json({"running": False, "socket": str(cfg.socket_path)})
        else:
            typer.echo(f"edge-agent is not running (no answer on {cfg.socket_path})")
        raise typer.Exit(1)
    if as_json:
        print_json(snap)
        return
    _print_status(snap)


def _print_status(snap: dict[str, Any]) -> None:
    """The running agent as a field engineer reads it: health first, then every link's real state."""
    now = time.time()
    health = snap.get("health", {"status": "ok"})
    console.print(
        f"edge-agent store {snap['store_id']} · pid {snap['pid']} · up {snap['uptime_s']:.0f} s · {health['status']}",
        markup=False,
    )
    for reason in health.get("reasons", []):
        console.print(f"  ! {reason}", markup=False, style="red")
    store = snap.get("store", {})
    console.print(f"store: {'writable' if store.get('writable', True) else store.get('problem')} · "
                  f"{store.get('rows', 0)} inputs committed", markup=False)  # fmt: skip
    for name, link in snap.get("links", {}).items():
        error = f" · {link['last_error']}" if link["state"] != "connected" and link.get("last_error") else ""
        retry = f" · retry in {link['retry_in_s']:.0f} s" if link.get("retry_in_s") else ""
        console.print(f"link {name}: {link['state']}{retry}{error}", markup=False)
    for name, s in snap["sources"].items():
        age = f"{now - s['last_event_ts']:.0f} s ago" if s["last_event_ts"] else "never"
        console.print(
            f"source {name}: {s['state']} · {s['events']} events · last {age} · restarts {s['restarts']}", markup=False
        )
    for device, d in snap["devices"].items():
        age = f"{now - d['last_event_ts']:.0f} s ago" if d["last_event_ts"] else "never"
        console.print(f"device {device}: {d['events']} events · last {age}", markup=False)
    for dl in snap["dead_letters"]:
        console.print(f"dead letters {dl['device']}/{dl['reason']}: {dl['count']}", markup=False)
    for key, value in snap["counters"].items():
        console.print(f"{key}: {value}", markup=False)


def demo(
    speed: Annotated[float, typer.Option(help="Time compression: 10 plays ten seconds per second.", min=0.1)] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    log_format: LogFormatOpt = "text",
    verbose: Annotated[bool, typer.Option("--verbose", help="Log what the agent does (INFO) to stderr.")] = False,
) -> None:
    """Run a whole simulated store on embedded defaults (temp data dir, simulated sensors)."""
    from ..demo import run_demo
    from ..runtime.daemon import run_until_signal

    setup_logging(_log_format(log_format), level="INFO" if verbose else "WARNING")

    async def main(stop: asyncio.Event) -> None:
        await run_demo(stop, speed=speed, duration=duration, console=console)

    run_until_signal(main)
