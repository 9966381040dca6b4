"""The device registry: provisioning validated against device profiles."""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import ValidationError

from ..config.agent import AgentConfig
from ..config.profiles import DeviceProfile, ModbusSettings, ProfileRegistry, SerialSettings
from ..core.errors import DeviceError
from ..core.events import Device
from ..store import Database
from ..store import devices as table
from ..store.devices import get_device

DEVICE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _coerce(value: str) -> Any:
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings from `--set` into a dict with numbers and booleans typed."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DeviceError(f"--set {pair!r}: expected key=value")
        out[key.strip()] = _coerce(value.strip())
    return out


def _check_settings(profile: DeviceProfile, settings: dict[str, Any]) -> dict[str, Any]:
    """Overrides must be keys of the profile's serial/modbus blocks and valid there."""
    blocks: list[tuple[str, Any, type[SerialSettings] | type[ModbusSettings]]] = []
    if profile.serial is not None:
        blocks.append(("serial", profile.serial, SerialSettings))
    if profile.modbus is not None:
        blocks.append(("modbus", profile.modbus, ModbusSettings))
    allowed = {k for _, _, model in blocks for k in model.model_fields}
    unknown = sorted(set(settings) - allowed)
    if unknown:
        hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else f"; profile {profile.name} takes no settings"
        raise DeviceError(f"--set {unknown[0]}: unknown setting{hint}")
    for name, current, model in blocks:
        merged = {**current.model_dump(), **{k: v for k, v in settings.items() if k in model.model_fields}}
        try:
            model.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise DeviceError(f"--set {err['loc'][0]}: {err['msg']} (in {name} settings)") from None
    return settings


def build_device(
    config: AgentConfig,
    profiles: ProfileRegistry,
    device_id: str,
    profile_name: str,
    *,
    zone: str | None = None,
    port: str | None = None,
    topic: str | None = None,
    identifier: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Device:
    """Validate a registration against its profile and the config."""
    if not DEVICE_ID.match(device_id):
        raise DeviceError(f"device id {device_id!r}: use 1–64 letters, digits, '.', '_' or '-'")
    profile = profiles.get(profile_name)
    zones = [z.id for z in config.zones]
    if zone is not None and zone not in zones:
        raise DeviceError(f"--zone {zone!r}: not a zone in the config (zones: {', '.join(zones)})")
    if profile.transport == "ble":
        if not identifier:
            raise DeviceError(f"profile {profile.name} is a BLE tag: --identifier is required")
        try:
            identifier = profile.check_identifier(identifier)
        except ValueError as exc:
            raise DeviceError(f"--identifier: {exc}") from None
    elif identifier:
        raise DeviceError(f"--identifier applies to BLE tags, not to {profile.transport} profile {profile.name}")
    if profile.transport == "serial":
        if not port:
            raise DeviceError(f"profile {profile.name} is a serial device: --port is required (e.g. /dev/ttyUSB0)")
    elif port:
        raise DeviceError(f"--port applies to serial devices, not to {profile.transport} profile {profile.name}")
    if profile.transport == "mqtt":
        assert profile.mqtt is not None
        topic = topic or profile.mqtt.topic.format(topic_prefix=config.topic_prefix, device_id=device_id)
    elif topic:
        raise DeviceError(f"--topic applies to MQTT devices, not to {profile.transport} profile {profile.name}")
    return Device(
        id=device_id,
        profile=profile.name,
        transport=profile.transport,
        zone=zone,
        port=port,
        topic=topic,
        identifier=identifier,
        settings=_check_settings(profile, settings or {}),
        created_at=time.time(),
    )


def add_device(conn: Database, device: Device) -> Device:
    if get_device(conn, device.id) is not None:
        raise DeviceError(f"device {device.id!r} already exists (see `edge-agent device show {device.id}`)")
    if device.identifier is not None:
        owner = table.owner_of_identifier(conn, device.identifier)
        if owner is not None:
            raise DeviceError(f"identifier {device.identifier} is already registered as device {owner!r}")
    table.insert(
        conn,
        (
            device.id,
            device.profile,
            device.transport,
            device.zone,
            device.port,
            device.topic,
            device.identifier,
            dict(device.settings),
            device.auto_registered,
            device.created_at,
        ),
    )
    return device


def remove_device(conn: Database, device_id: str) -> Device:
    device = get_device(conn, device_id)
    if device is None:
        raise DeviceError(f"no device {device_id!r} (see `edge-agent device list`)")
    table.delete(conn, device_id)
    return device
