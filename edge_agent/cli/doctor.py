"""`edge-agent doctor`: every check a field engineer needs, each with a fix hint."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from ..config.agent import AgentConfig, load_config, resolve_config_path
from ..core.errors import ConfigError, LinkError
from ..links import presence
from ..links.mqtt import store_client
from ..links.presence import Box
from ..runtime.control import query_status
from ..store import DatabaseError, connect
from ..store.db import integrity
from ..store.devices import list_devices
from .common import ConfigOpt, JsonOpt, State, console, print_json

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""


def _reachable(url: str, default_port: int, timeout: float = 2.0) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


def check_data_dir(cfg: AgentConfig) -> Check:
    """Create the data dir if need be and write (and sync) a file in it, as the agent will."""
    probe = cfg.data_dir / ".doctor-probe"
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as fh:
            fh.write(b"edge-agent doctor\n")
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        return Check(
            "data dir", "fail", f"{cfg.data_dir}: cannot create or write it ({cause})",
            "set data_dir to a writable folder (the installer uses /var/lib/edge-agent)",
        )  # fmt: skip
    return Check("data dir", "ok", f"{cfg.data_dir} writable")


def check_database(cfg: AgentConfig) -> Check:
    if not cfg.db_path.exists():
        if not os.access(cfg.data_dir, os.W_OK):
            return Check("database", "fail", f"{cfg.db_path} does not exist and cannot be created", "see data dir")
        return Check("database", "ok", f"{cfg.db_path} does not exist yet; the agent creates it on first start")
    try:
        conn = connect(cfg.db_path)
        result, mode = integrity(conn)
        conn.close()
    except (DatabaseError, OSError) as exc:
        return Check("database", "fail", str(exc), "restore the data dir from backup or move it aside")
    if result != "ok":
        return Check("database", "fail", f"integrity_check: {result}", "stop the agent and restore from backup")
    return Check("database", "ok", f"integrity ok, journal {mode}")


def check_disk(cfg: AgentConfig) -> Check:
    folder = next((f for f in (cfg.data_dir, *cfg.data_dir.parents) if f.exists()), Path("/"))
    usage = shutil.disk_usage(folder)
    free_mb = usage.free / 2**20
    if free_mb < cfg.store.min_free_mb:
        return Check(
            "disk", "fail",
            f"{free_mb:.0f} MB free, below store.min_free_mb {cfg.store.min_free_mb:.0f}: inputs are refused",
            f"free space on {folder} (journalctl --vacuum-size=50M, old files); the agent resumes by itself",
        )  # fmt: skip
    need = cfg.uplink.max_backlog_mb * 2 + 200
    if free_mb < need / 2:
        return Check(
            "disk", "fail", f"{free_mb:.0f} MB free", f"free space or lower uplink.max_backlog_mb (need ~{need:.0f} MB)"
        )
    if free_mb < need:
        return Check("disk", "warn", f"{free_mb:.0f} MB free", f"~{need:.0f} MB recommended")
    return Check("disk", "ok", f"{free_mb:.0f} MB free")


def check_clock() -> Check:
    year = time.gmtime().tm_year
    if year < 2024:
        return Check("clock", "fail", f"system year is {year}", "enable NTP: sudo timedatectl set-ntp true")
    return Check("clock", "ok", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))


def check_broker(cfg: AgentConfig) -> Check:
    error = _reachable(cfg.mqtt.url, 8883 if cfg.mqtt.url.startswith("mqtts") else 1883)
    if error:
        return Check("store broker", "fail", f"{cfg.mqtt.url}: {error}", "sudo systemctl start mosquitto")
    return Check("store broker", "ok", f"{cfg.mqtt.url} reachable")


def check_ble(cfg: AgentConfig) -> Check:
    if cfg.ble.mode == "off":
        return Check("BLE adapter", "ok", "local scanning is off in the config")
    if not Path("/sys/class/bluetooth").exists() or not any(Path("/sys/class/bluetooth").iterdir()):
        return Check(
            "BLE adapter",
            "warn",
            "no Bluetooth adapter found",
            "check the adapter (hciconfig) or set ble.mode: off and use remote scanners",
        )
    if not Path(f"/sys/class/bluetooth/{cfg.ble.adapter}").exists():
        return Check("BLE adapter", "fail", f"{cfg.ble.adapter} not present", "set ble.adapter to an existing hciN")
    if not Path("/run/dbus/system_bus_socket").exists():
        return Check("BLE adapter", "fail", "D-Bus is not running", "sudo systemctl start dbus bluetooth")
    return Check("BLE adapter", "ok", cfg.ble.adapter)


def check_serial(cfg: AgentConfig) -> Check:
    if not cfg.db_path.exists():
        return Check("serial ports", "ok", "no devices registered")
    conn = connect(cfg.db_path)
    missing = [f"{d.id} ({d.port})" for d in list_devices(conn) if d.port and not Path(d.port).exists()]
    conn.close()
    if missing:
        return Check(
            "serial ports",
            "fail",
            "missing: " + ", ".join(missing),
            "plug the device in, or fix --port (ls /dev/serial/by-id/)",
        )
    return Check("serial ports", "ok", "every registered port exists")


def check_model(cfg: AgentConfig) -> Check:
    from ..scoring.onnx import Manifest, ModelError, OnnxScorer, model_candidates  # onnxruntime: only here

    for manifest in model_candidates(cfg.data_dir, cfg.scoring.model):
        if manifest.exists():
            try:
                scorer = OnnxScorer(Manifest.read(manifest))
            except ModelError as exc:
                return Check("offer model", "fail", str(exc), "re-send the model, or remove the broken one")
            return Check("offer model", "ok", f"{scorer.manifest.version} sha256 {scorer.sha256[:12]}…")
    return Check("offer model", "warn", "no model found: rule scorer in use", "reinstall edge-agent")


def check_uplink(cfg: AgentConfig) -> Check:
    if cfg.uplink.kind == "off":
        return Check("uplink", "ok", "off in the config")
    default = 443 if cfg.uplink.kind == "https" else 8883
    error = _reachable(cfg.uplink.url, default, timeout=3)
    if error:
        return Check("uplink", "warn", f"{cfg.uplink.url}: {error}", "batches wait in the outbox; check the network")
    return Check("uplink", "ok", f"{cfg.uplink.url} reachable")


FIXES = {
    "conflict": "another box uses this client id: give each box its own store_id (or mqtt.client_id); "
    "a cloned SD card keeps the original's config",
    "refused": "the broker refused the credentials or certificate: check mqtt.username/password, the ACL, "
    "or the TLS files",
}


def running_agent(cfg: AgentConfig) -> list[Check]:
    """The running agent's store and links, as `status` reports them (a probe of the identity if it is not running)."""
    status = query_status(cfg.socket_path)
    if status is None:
        return [Check("links", "ok", "agent not running; broker and uplink were probed directly"), check_identity(cfg)]
    store = status.get("store", {})
    checks = [
        Check("store", "ok", "taking inputs")
        if store.get("writable", True)
        else Check("store", "fail", f"holding inputs: {store.get('problem')}",
                   f"free space on {cfg.data_dir} (df -h); the held inputs are committed by themselves"),
    ]  # fmt: skip
    for name, link in status.get("links", {}).items():
        if link["state"] == "connected":
            checks.append(Check(f"link {name}", "ok", "connected"))
            continue
        detail = f"{link['state']} after {link['attempts']} attempt(s): {link['last_error'] or 'no error yet'}"
        level: Level = "fail" if link["state"] in FIXES else "warn"
        fix = FIXES.get(link["state"], "see `edge-agent status` and the agent's log")
        checks.append(Check(f"link {name}", level, detail, fix))
    return checks


def check_identity(cfg: AgentConfig, wait_s: float = 2.0) -> Check:
    """Before this box starts: is another box connected with this store's client ids?"""
    if _reachable(cfg.mqtt.url, 8883 if cfg.mqtt.url.startswith("mqtts") else 1883) is not None:
        return Check("client ids", "warn", "store broker unreachable: not checked")
    try:
        seen = asyncio.run(read_presence(cfg, wait_s))
    except (LinkError, OSError) as exc:
        return Check("client ids", "warn", f"not checked ({exc})")
    if seen is None or not seen.get("online") or seen.get("box") == Box.this(cfg.data_dir).box:
        return Check("client ids", "ok", f"free (no other box announced on {presence.topic(cfg.topic_prefix)})")
    return Check(
        "client ids", "fail",
        f"in use by another box (host {seen.get('host')!r}, client id {seen.get('client_id')!r}) "
        f"with store_id {cfg.store_id}",
        FIXES["conflict"],
    )  # fmt: skip


async def read_presence(cfg: AgentConfig, wait_s: float) -> dict[str, Any] | None:
    """Another box announced online under this store, if any (retained messages arrive at once)."""
    probe = f"edge-agent-doctor-{os.getpid()}"  # never one of the agent's own client ids
    mine = Box.this(cfg.data_dir).box
    async with store_client(cfg.mqtt, probe, clean_session=True) as client:
        await client.subscribe(presence.topic(cfg.topic_prefix), qos=1)
        try:
            async with asyncio.timeout(wait_s):
                async for message in client.messages():
                    seen = presence.read(message.payload)
                    if seen is not None and seen.get("online") and seen["box"] != mine:
                        return seen
        except TimeoutError:
            return None
    return None


def check_config_file(path: Path) -> Check:
    mode = path.stat().st_mode
    if mode & 0o077:
        return Check(
            "config", "warn", f"{path} is readable by others (mode {mode & 0o777:o}); it holds the staff token, "
            "salt and check-in key", f"chmod 600 {path}",
        )  # fmt: skip
    return Check("config", "ok", f"{path} (mode {mode & 0o777:o})")


def check_webhooks(cfg: AgentConfig) -> Check:
    """Webhooks are opt-in because a customer's display name leaves the box through them: say which."""
    hooks = cfg.sinks.webhooks
    if not hooks:
        return Check("webhooks", "ok", "none: alerts stay on the store broker and the tablets")
    where = ", ".join(f"{urlsplit(h.url).hostname} ({', '.join(h.kinds)})" for h in hooks)
    return Check(
        "webhooks", "warn", f"{len(hooks)} configured, alerts with customers' display names go to: {where}",
        "keep only the staff tools the store has agreed to (sinks.webhooks)",
    )  # fmt: skip


def check_sharing(cfg: AgentConfig) -> Check:
    """Friends' advice: where the companions' links point, and whether friends elsewhere can be reached."""
    social = cfg.social
    box = social.public_url or f"this box's LAN address, port {cfg.http.port}"
    if social.remote_url is None:
        return Check("sharing", "ok", f"companions vote at {box}; friends elsewhere are off (social.remote_url)")
    if cfg.uplink.kind != "mqtt":
        return Check(
            "sharing", "warn", f"social.remote_url is set, uplink.kind is {cfg.uplink.kind!r}: only companions vote",
            "friends elsewhere need the chain's broker: uplink.kind: mqtt",
        )  # fmt: skip
    return Check("sharing", "ok", f"companions vote at {box}; friends elsewhere through {social.remote_url}")


CHECKS: tuple[Callable[[AgentConfig], Check], ...] = (
    check_data_dir,
    check_database,
    check_disk,
    check_broker,
    check_ble,
    check_serial,
    check_model,
    check_uplink,
    check_webhooks,
    check_sharing,
)


def doctor(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Check config, database, disk, clock, broker, BLE, serial ports, model and uplink."""
    path = resolve_config_path(config or State.config_path)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        results = [Check("config", "fail", str(exc), "fix the file, or run edge-agent init")]
    else:
        results = [
            check_config_file(path),
            check_clock(),
            *(check(cfg) for check in CHECKS),
            *running_agent(cfg),
        ]
    if as_json:
        print_json([asdict(r) for r in results])
    else:
        marks = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
        for r in results:
            hint = f"  → {r.fix}" if r.fix and r.level != "ok" else ""
            console.print(marks[r.level], escape(f"{r.name}: {r.detail}{hint}"), highlight=False, soft_wrap=True)
    if results[0].name == "config" and results[0].level == "fail":
        raise typer.Exit(2)  # a config that cannot be read is a usage error, as for every command
    if any(r.level == "fail" for r in results):
        raise typer.Exit(1)
