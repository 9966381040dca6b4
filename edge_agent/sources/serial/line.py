"""A line-protocol device on a serial port; survives unplug/replug and garbage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import serial_asyncio_fast

from ...config.profiles import DeviceProfile, SerialSettings
from ...core.errors import DecodeError
from ...core.events import DeadLetter, Device
from ...decoders.line import MAX_LINE, decode_line
from ...links import Link
from ..base import SourceEvent, SourceInfo

log = logging.getLogger(__name__)


def serial_settings(device: Device, profile: DeviceProfile) -> SerialSettings:
    """The profile's serial settings with the device's `--set` overrides applied."""
    assert profile.serial is not None
    overrides = {k: v for k, v in device.settings.items() if k in SerialSettings.model_fields}
    return profile.serial.model_copy(update=overrides)


def port_kwargs(settings: SerialSettings) -> dict[str, Any]:
    return {
        "baudrate": settings.baudrate,
        "bytesize": settings.bytesize,
        "parity": settings.parity,
        "stopbits": settings.stopbits,
    }


class SerialLineSource:
    """Reads newline-terminated frames from `device.port` and decodes them with the profile."""

    def __init__(self, device: Device, profile: DeviceProfile) -> None:
        assert device.port is not None
        self.name = f"serial:{device.id}"
        self._device = device
        self._profile = profile
        self._settings = serial_settings(device, profile)
        self.link = Link(f"{self.name}: port {device.port}", initial=0.5, cap=10.0, logger=log)

    def info(self) -> SourceInfo:
        return SourceInfo(stale_after_s=self._settings.stale_after_s)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        assert self._device.port is not None
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=self._device.port, limit=MAX_LINE, **port_kwargs(self._settings)
        )
        log.info("%s: opened %s", self.name, self._device.port)
        try:
            yield self._lines(reader)
        finally:
            writer.close()

    async def _lines(self, reader: asyncio.StreamReader) -> AsyncIterator[SourceEvent]:
        device_id = self._device.id
        discarding = False
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                # A line longer than any frame: drop what we have and everything up to its newline.
                await reader.readexactly(exc.consumed)
                if not discarding:
                    yield DeadLetter(device_id, "too_large", time.time(), b"", f"line over {MAX_LINE} bytes")
                discarding = True
                continue
            if discarding:
                discarding = False
                continue
            now = time.time()
            try:
                for reading in decode_line(self._profile, device_id, line.rstrip(b"\n"), now):
                    yield reading
            except DecodeError as exc:
                yield DeadLetter(device_id, exc.reason, now, line[:512], exc.detail)
            except Exception as exc:  # noqa: BLE001 -- an input the decoder did not foresee is bad input, never a crash
                yield DeadLetter(device_id, "undecodable", now, line[:512], f"{type(exc).__name__}: {str(exc)[:200]}")
