"""What a field engineer's `device scan` finds: beacons in range, serial ports, a Modbus probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..beacons import beacon_of
from ..beacons import get as beacon_format
from ..config.agent import BleConfig
from ..config.profiles import DeviceProfile
from ..core.errors import EdgeAgentError
from ..core.events import Advertisement
from ..decoders.modbus import decode_registers, register_span
from ..sources.ble.bleak import BleakSource, BleUnavailable, ScannerFactory, explain


class ScanError(EdgeAgentError):
    """The radio or port cannot be used; the message says how to fix it."""


@dataclass(slots=True)
class Seen:
    address: str
    kind: str
    identifier: str
    rssi: int
    profile: str | None
    registered: str | None = None
    adverts: int = 1


async def scan_ble(
    config: BleConfig,
    duration: float,
    *,
    registered: dict[str, str],
    scanner_factory: ScannerFactory | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[Seen]:
    """Beacons heard during `duration` seconds, strongest first; MAC addresses are shown, never stored."""
    source = BleakSource(config, watchdog_s=duration + 5, scanner_factory=scanner_factory)
    seen: dict[str, Seen] = {}
    started = time.monotonic()
    try:
        async with source.connect() as events:
            async with asyncio.timeout(duration):
                async for event in events:
                    if isinstance(event, Advertisement):
                        _note(seen, event, registered)
                    if progress is not None:
                        progress(time.monotonic() - started)
    except TimeoutError:
        pass
    except BleUnavailable as exc:
        raise ScanError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 -- whatever the radio stack raises, the engineer gets one line with the fix
        raise ScanError(explain(exc, config.adapter)) from None
    return sorted(seen.values(), key=lambda s: -s.rssi)


def _note(seen: dict[str, Seen], event: Advertisement, registered: dict[str, str]) -> None:
    decoded = beacon_of(event)
    if decoded is None:
        return
    beacon, _ = decoded
    key = str(beacon)
    entry = seen.get(key)
    if entry is None:
        fmt = beacon_format(beacon.kind)
        seen[key] = Seen(
            event.address, beacon.kind, beacon.value, event.rssi, fmt.profile, registered.get(beacon.value)
        )
    else:
        entry.adverts += 1
        entry.rssi = max(entry.rssi, event.rssi)


def serial_ports() -> list[dict[str, Any]]:
    """Serial ports the OS knows, with USB vendor/product ids (pyserial's list_ports)."""
    from serial.tools import list_ports

    return [
        {
            "device": p.device,
            "description": p.description,
            "vid_pid": f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else None,
            "serial_number": p.serial_number,
        }
        for p in list_ports.comports()
    ]


async def probe_modbus(port: str, profile: DeviceProfile, *, unit_id: int | None = None) -> dict[str, Any]:
    """Read the profile's registers once at the profile's serial settings."""
    from pymodbus.client import AsyncModbusSerialClient
    from pymodbus.exceptions import ModbusException
    from pymodbus.framer import FramerType

    if profile.decoder != "modbus" or profile.serial is None or profile.modbus is None:
        raise ScanError(f"profile {profile.name} is not a Modbus RTU profile")
    s, m = profile.serial, profile.modbus
    client = AsyncModbusSerialClient(
        port,
        framer=FramerType.RTU,
        baudrate=s.baudrate,
        bytesize=s.bytesize,
        parity=s.parity,
        stopbits=s.stopbits,
        timeout=m.timeout_s,
        retries=1,
    )
    if not await client.connect():
        raise ScanError(f"cannot open {port}: check the cable and that the user is in group 'dialout'")
    try:
        first, count = register_span(profile)
        unit = unit_id or m.unit_id
        read = client.read_input_registers if m.function == "input" else client.read_holding_registers
        try:
            response = await read(first, count=count, device_id=unit)
        except ModbusException as exc:
            raise ScanError(
                f"no answer from unit {unit} on {port} at {s.baudrate} {s.bytesize}{s.parity}{s.stopbits} ({exc})"
            ) from None
        if response.isError():
            raise ScanError(f"unit {unit} answered with an exception: {response}")
        readings, errors = decode_registers(profile, "probe", first, list(response.registers), time.time())
        return {
            "port": port,
            "unit_id": unit,
            "readings": {r.resource: r.value for r in readings},
            "problems": [str(e) for e in errors],
        }
    finally:
        client.close()


def as_rows(seen: list[Seen]) -> list[dict[str, Any]]:
    return [asdict(s) for s in seen]
