"""`edge-agent doctor`: every check a field engineer needs, each with a fix hint."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import typer

from ..config.agent import AgentConfig, load_config, resolve_config_path
from ..core.errors import ConfigError
from ..runtime.control import query_status
from ..scoring.onnx import Manifest, ModelError, OnnxScorer, model_candidates
from ..store import connect
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


def check_database(cfg: AgentConfig) -> Check:
    if not cfg.db_path.exists():
        return Check("database", "warn", f"{cfg.db_path} does not exist yet", "it is created on first start")
    try:
        conn = connect(cfg.db_path)
        result, mode = integrity(conn)
        conn.close()
    except (sqlite3.Error, OSError) as exc:
        return Check("database", "fail", str(exc), "restore the data dir from backup or move it aside")
    if result != "ok":
        return Check("database", "fail", f"integrity_check: {result}", "stop the agent and restore from backup")
    return Check("database", "ok", f"integrity ok, journal {mode}")


def check_disk(cfg: AgentConfig) -> Check:
    folder = cfg.data_dir if cfg.data_dir.exists() else cfg.data_dir.parent
    usage = shutil.disk_usage(folder)
    free_mb = usage.free / 2**20
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


def running_links(cfg: AgentConfig) -> list[Check]:
    """Every link of the running agent, reported as `status` reports it (nothing if it is not running)."""
    status = query_status(cfg.socket_path)
    if status is None:
        return [Check("links", "ok", "agent not running; broker and uplink were probed directly")]
    checks = []
    for name, link in status.get("links", {}).items():
        if link["state"] == "connected":
            checks.append(Check(f"link {name}", "ok", "connected"))
        else:
            detail = f"{link['state']} after {link['attempts']} attempt(s): {link['last_error'] or 'no error yet'}"
            checks.append(Check(f"link {name}", "warn", detail, "see `edge-agent status` and the agent's log"))
    return checks


CHECKS: tuple[Callable[[AgentConfig], Check], ...] = (
    check_database,
    check_disk,
    check_broker,
    check_ble,
    check_serial,
    check_model,
    check_uplink,
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
            Check("config", "ok", str(path)),
            check_clock(),
            *(check(cfg) for check in CHECKS),
            *running_links(cfg),
        ]
    if as_json:
        print_json([asdict(r) for r in results])
    else:
        marks = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
        for r in results:
            hint = f"  → {r.fix}" if r.fix and r.level != "ok" else ""
            console.print(f"{marks[r.level]} {r.name}: {r.detail}{hint}", highlight=False)
    if any(r.level == "fail" for r in results):
        raise typer.Exit(1)
