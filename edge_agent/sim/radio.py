"""A simulated BLE radio behind bleak's scanner interface: the hardware edge, and nothing more."""

from __future__ import annotations

import asyncio
import contextlib

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from ..core.events import Advertisement
from ..sources.ble.bleak import DetectionCallback
from .ble import Scenario, SimulatedBleSource


def to_bleak(adv: Advertisement) -> tuple[BLEDevice, AdvertisementData]:
    """Our advertisement as bleak would report it on BlueZ."""
    device = BLEDevice(adv.address, adv.local_name, details={"path": "/org/bluez/hci0/dev_sim"})
    data = AdvertisementData(
        local_name=adv.local_name,
        manufacturer_data=dict(adv.manufacturer_data),
        service_data=dict(adv.service_data),
        service_uuids=list(adv.service_uuids),
        tx_power=adv.tx_power,
        rssi=adv.rssi,
        platform_data=(),
    )
    return device, data


class SimulatedScanner:
    """Plays a scenario into a bleak detection callback; `stall()` makes it go quiet like a hung BlueZ."""

    def __init__(self, scenario: Scenario, callback: DetectionCallback, *, speed: float = 1.0) -> None:
        self._source = SimulatedBleSource(scenario, speed=speed, loop_forever=True)
        self._callback = callback
        self._task: asyncio.Task[None] | None = None
        self.stalled = False
        self.started = 0

    async def start(self) -> None:
        self.started += 1
        self._task = asyncio.create_task(self._play())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def stall(self) -> None:
        self.stalled = True

    async def _play(self) -> None:
        async for adv in self._source.events():
            if not self.stalled and isinstance(adv, Advertisement):
                self._callback(*to_bleak(adv))
