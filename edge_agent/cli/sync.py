"""`edge-agent sync status|now`."""

from __future__ import annotations

import time

import typer

from ..core.errors import EdgeAgentError
from ..runtime.control import query_status
from ..store.outbox import outbox_status
from .common import ConfigOpt, JsonOpt, get_config, group, open_store, print_json

app = group("Cloud sync of privacy-safe aggregates.")


@app.command()
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Backlog, oldest pending batch, last success, last error, drops (works with the cloud down)."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        data = {
            "kind": cfg.uplink.kind,
            "target": cfg.uplink.url if cfg.uplink.kind != "off" else None,
            **outbox_status(conn),
        }
    live = query_status(cfg.socket_path)
    data["agent_running"] = live is not None
    if live is not None and "uplink" in live:
        data["state"] = live["uplink"]["state"]
    if as_json:
        print_json(data)
        return
    age = f"{data['oldest_pending_age_s']:.0f} s" if data["oldest_pending_age_s"] is not None else "–"
    last_ok = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data["last_success"])) if data["last_success"] else "never"
    )
    typer.echo(f"uplink {data['kind']} → {data['target'] or '(off)'}; state {data.get('state', 'agent not running')}")
    typer.echo(f"backlog {data['backlog']} batch(es), {data['backlog_bytes']} bytes, oldest {age}")
    typer.echo(f"last success {last_ok}; resent {data['resent']}; dropped {data['dropped']}")
    if data["last_error"]:
        typer.echo(f"last error: {data['last_error']['error']}")


@app.command()
def now(config: ConfigOpt = None) -> None:
    """Ask the running agent to send its backlog now instead of after the current backoff."""
    cfg = get_config(config)
    answer = query_status(cfg.socket_path, command="sync")
    if answer is None:
        raise EdgeAgentError(f"edge-agent is not running (no answer on {cfg.socket_path})")
    if not answer.get("ok"):
        raise EdgeAgentError(str(answer.get("error")))
    typer.echo("sync requested")
