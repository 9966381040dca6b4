"""`edge-agent device add|list|show|remove`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from ..config.agent import BleConfig
from ..core.errors import DeviceError
from ..field.credentials import grant, revoke
from ..field.devices import add_device, build_device, parse_settings, remove_device
from ..field.scan import as_rows, probe_modbus, scan_ble, serial_ports
from ..sources.ble.bleak import ScannerFactory
from ..sources.ble.scenario import load_scenario
from ..store.devices import get_device, list_devices
from .common import (
    ConfigOpt,
    JsonOpt,
    cells,
    console,
    data_table,
    err_console,
    get_config,
    group,
    open_store,
    print_fields,
    print_json,
    profiles_for,
)

app = group("Register and inspect devices.")


@app.command()
def add(
    device_id: Annotated[str, typer.Argument(metavar="ID", help="A unique device id, e.g. mirror-1.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Device profile name (see `profile list`).")],
    zone: Annotated[str | None, typer.Option(help="Zone the device is in.")] = None,
    port: Annotated[str | None, typer.Option(help="Serial port (serial devices).")] = None,
    topic: Annotated[str | None, typer.Option(help="MQTT topic (default from the profile).")] = None,
    identifier: Annotated[str | None, typer.Option(help="BLE tag identifier, e.g. UUID:major:minor.")] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help="Override a profile setting: key=value.")] = None,
    credentials: Annotated[
        bool, typer.Option("--credentials", help="MQTT devices: create a broker password and ACL for its own topics.")
    ] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a device, validated against its profile."""
    cfg = get_config(config)
    device = build_device(
        cfg,
        profiles_for(cfg),
        device_id,
        profile,
        zone=zone,
        port=port,
        topic=topic,
        identifier=identifier,
        settings=parse_settings(settings or []),
    )
    if credentials and device.transport != "mqtt":
        raise DeviceError(f"--credentials is for MQTT devices; {device.profile} is a {device.transport} device")
    with open_store(cfg) as conn:
        add_device(conn, device)
    password = grant(device, cfg) if credentials else None
    if as_json:
        print_json({**device.to_json(), **({"mqtt_password": password} if password else {})})
        return
    typer.echo(f"added {device.id} ({device.profile})")
    if password:
        typer.echo(f"MQTT username {device.id}, password {password}  (shown once; reload mosquitto to apply)")


@app.command("list")
def list_(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List registered devices."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        devices = list_devices(conn)
    if as_json:
        print_json([d.to_json() for d in devices])
        return
    table = data_table("id", "profile", "transport", "zone", "address")
    for d in devices:
        table.add_row(*cells(d.id, d.profile, d.transport, d.zone or "", d.port or d.topic or d.identifier or ""))
    console.print(table)


@app.command()
def show(
    device_id: Annotated[str, typer.Argument(metavar="ID")], config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Show one device."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        device = get_device(conn, device_id)
    if device is None:
        raise DeviceError(f"no device {device_id!r} (see `edge-agent device list`)")
    if as_json:
        print_json(device.to_json())
        return
    print_fields(device.to_json())


@app.command()
def remove(device_id: Annotated[str, typer.Argument(metavar="ID")], config: ConfigOpt = None) -> None:
    """Unregister a device."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        device = remove_device(conn, device_id)
    revoked = revoke(device.id, cfg)
    typer.echo(f"removed {device.id}" + ("; MQTT credentials revoked (reload mosquitto to apply)" if revoked else ""))


@app.command()
def scan(
    duration: Annotated[float, typer.Option(help="Seconds to listen for BLE advertisements.", min=0.5)] = 10.0,
    probe: Annotated[str | None, typer.Option(help="Serial port to probe with --profile's Modbus settings.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile for --probe.")] = None,
    simulate: Annotated[
        Path | None, typer.Option(help="Play a BLE scenario file instead of using the adapter (training, tests).")
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """See what is around: BLE beacons in range, serial ports, and optionally probe a Modbus device."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        registered = {d.identifier: d.id for d in list_devices(conn) if d.identifier}
    factory = None
    if simulate is not None:
        scenario = load_scenario(simulate)
        from ..sim.radio import SimulatedScanner  # bleak's types, only when simulating a scan

        factory = lambda callback: SimulatedScanner(scenario, callback, speed=1.0)  # noqa: E731
    result: dict[str, Any] = {}
    if probe is not None:
        if profile is None:
            raise DeviceError("--probe needs --profile (e.g. modbus-temp-humidity)")
        result["probe"] = asyncio.run(probe_modbus(probe, profiles_for(cfg).get(profile)))
    else:
        result["ble"] = _listen(cfg.ble, duration, registered, factory, quiet=as_json)
    result["serial_ports"] = serial_ports()
    if as_json:
        print_json(result)
    else:
        _print_scan(result)


def _listen(
    ble: BleConfig, duration: float, registered: dict[str, str], factory: ScannerFactory | None, *, quiet: bool
) -> list[dict[str, Any]]:
    with Progress(console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task("listening for BLE advertisements", total=duration)
        seen = asyncio.run(
            scan_ble(
                ble,
                duration,
                registered=registered,
                scanner_factory=factory,
                progress=lambda t: bar.update(task, completed=t),
            )
        )
    return as_rows(seen)


def _print_scan(result: dict[str, Any]) -> None:
    if "probe" in result:
        p = result["probe"]
        console.print(f"unit {p['unit_id']} on {p['port']}: " + ", ".join(f"{k}={v}" for k, v in p["readings"].items()))
    else:
        table = data_table(
            "address", "kind", "identifier", "RSSI", "profile", "registered as", title="BLE beacons in range"
        )
        for s in result["ble"]:
            table.add_row(
                *cells(
                    s["address"],
                    s["kind"],
                    s["identifier"],
                    str(s["rssi"]),
                    s["profile"] or "",
                    s["registered"] or "no",
                )
            )
        console.print(table)
    ports = data_table("port", "description", "USB vid:pid", title="serial ports")
    for port in result["serial_ports"]:
        ports.add_row(*cells(port["device"], port["description"] or "", port["vid_pid"] or ""))
    console.print(ports)
