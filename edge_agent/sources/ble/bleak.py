"""The local adapter through bleak: detection callbacks become an async iterator over a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from ...beacons import passive_patterns
from ...config.agent import BleConfig
from ...core.errors import LinkError
from ...core.events import Advertisement
from ...links import Link
from ..base import SourceEvent, SourceInfo

log = logging.getLogger(__name__)


DetectionCallback = Callable[[Any, Any], None]


class Scanner(Protocol):
    """What we use of `bleak.BleakScanner` (the simulated radio implements the same)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ScannerFactory = Callable[[DetectionCallback], Scanner]


def to_advertisement(device: Any, data: Any, scanner: str = "local") -> Advertisement:
    """bleak's (BLEDevice, AdvertisementData) into our model."""
    return Advertisement(
        address=device.address,
        rssi=data.rssi,
        scanner=scanner,
        ts=time.time(),
        manufacturer_data=dict(data.manufacturer_data),
        service_data=dict(data.service_data),
        service_uuids=tuple(data.service_uuids),
        tx_power=data.tx_power,
        local_name=data.local_name,
    )


class ScannerStalled(LinkError):
    """The scanner reported nothing for the watchdog period (a hung BlueZ scan): restart it."""


class BleUnavailable(LinkError):
    """The radio stack cannot scan now; the message says why and how to fix it."""


def explain(exc: BaseException, adapter: str) -> str:
    """One line a field engineer can act on, from whatever BlueZ, D-Bus or bleak raised."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError) or "ServiceUnknown" in text:
        return "BlueZ is not running (no D-Bus system bus or bluetoothd): sudo systemctl start dbus bluetooth"
    if "NotPermitted" in text or "Permission" in text or "AccessDenied" in text or isinstance(exc, PermissionError):
        return (
            "not allowed to scan: add the user to group 'bluetooth' (sudo usermod -aG bluetooth $USER) "
            "or run it as the edge-agent service"
        )
    if "No Bluetooth adapters" in text or "UnknownObject" in text or "adapter" in text.lower():
        # A vanished adapter (USB dongle pulled, controller reset) looks the same from D-Bus.
        return f"no Bluetooth adapter {adapter} found: check `hciconfig` and `rfkill unblock bluetooth`"
    return f"BLE scan failed ({text}); check `systemctl status bluetooth`"


class BleakSource:
    """Scans with the local adapter; a watchdog restarts a scanner that stopped reporting."""

    name = "ble-local"

    def __init__(
        self,
        config: BleConfig,
        *,
        watchdog_s: float = 30.0,
        queue_size: int = 2048,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        self._config = config
        self._scanner_factory = scanner_factory
        self._watchdog_s = watchdog_s
        self._queue: asyncio.Queue[Advertisement] = asyncio.Queue(queue_size)
        self.link = Link(f"BLE adapter {config.adapter}", initial=1.0, cap=60.0, logger=log)
        self.dropped = 0
        self.watchdog_restarts = 0

    def info(self) -> SourceInfo:
        return SourceInfo(dropped=self.dropped)

    def _on_detection(self, device: Any, data: Any) -> None:
        try:
            self._queue.put_nowait(to_advertisement(device, data))
        except asyncio.QueueFull:
            self.dropped += 1

    def _scanner(self) -> Scanner:
        if self._scanner_factory is not None:
            return self._scanner_factory(self._on_detection)
        from bleak import BleakScanner
        from bleak.args.bluez import BlueZScannerArgs
        from bleak.assigned_numbers import AdvertisementDataType

        bluez = BlueZScannerArgs(adapter=self._config.adapter)
        if self._config.mode == "passive":
            # BlueZ scans passively only through an advertisement monitor, which needs patterns:
            # each beacon format declares the one that matches it.
            patterns = passive_patterns()
            bluez["or_patterns"] = [(pos, AdvertisementDataType(kind), data) for pos, kind, data in patterns]
            return BleakScanner(detection_callback=self._on_detection, scanning_mode="passive", bluez=bluez)
        return BleakScanner(detection_callback=self._on_detection, scanning_mode="active", bluez=bluez)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        from bleak.exc import BleakError

        scanner = self._scanner()
        try:
            await scanner.start()
        except (BleakError, OSError) as exc:
            with contextlib.suppress(BleakError, OSError):
                await scanner.stop()
            raise BleUnavailable(explain(exc, self._config.adapter)) from exc
        try:
            yield self._adverts()
        finally:
            with contextlib.suppress(BleakError, OSError):
                await scanner.stop()

    async def _adverts(self) -> AsyncIterator[SourceEvent]:
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                async with asyncio.timeout(self._watchdog_s):
                    adv = await self._queue.get()
            except TimeoutError:
                # A stalled BlueZ scan reports nothing; restart it rather than trust the silence.
                self.watchdog_restarts += 1
                raise ScannerStalled(f"no advertisement for {self._watchdog_s:.0f}s; restarting the scanner") from None
            yield adv
