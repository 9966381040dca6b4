"""Which sources an agent runs, from its config and the device registry."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..config.agent import AgentConfig
from ..config.profiles import ProfileRegistry
from ..core.errors import ProfileError
from ..core.events import Device
from .base import Source
from .mqtt import mirror_source, pos_source, remote_scanner_source, remote_votes_source

log = logging.getLogger(__name__)


def remote_sharing(config: AgentConfig) -> bool:
    """Friends elsewhere need the chain's relay and an MQTT uplink to reach it."""
    return config.social.remote_url is not None and config.uplink.kind == "mqtt"


def build_sources(
    config: AgentConfig, devices: Iterable[Device], *, radio: bool = True, mqtt: bool = True
) -> list[Source]:
    """Every source the config and the registered `devices` call for.

    `radio=False` leaves out the local BLE adapter (e.g. when a scenario is replayed instead);
    `mqtt=False` the store-broker subscriptions (the demo without a mosquitto binary).
    """
    sources: list[Source] = []
    if mqtt:
        sources.append(mirror_source(config))
        sources.append(pos_source(config))
        if config.ble.remote_scanners:
            sources.append(remote_scanner_source(config))
        if remote_sharing(config):
            sources.append(remote_votes_source(config))
    if radio and config.ble.mode != "off":
        from .ble.bleak import BleakSource

        sources.append(BleakSource(config.ble))
    profiles = ProfileRegistry.load([config.data_dir / "profiles"])
    for device in devices:
        if device.transport != "serial":
            continue
        try:
            profile = profiles.get(device.profile)
        except ProfileError as exc:
            log.error("device %s: %s; not started", device.id, exc)
            continue
        if profile.decoder == "line":  # pyserial, bleak and pymodbus load only for a box that has them
            from .serial import SerialLineSource

            sources.append(SerialLineSource(device, profile))
        elif profile.decoder == "modbus":
            from .serial.modbus import ModbusSource

            sources.append(ModbusSource(device, profile))
    return sources
