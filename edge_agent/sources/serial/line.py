"""A line-protocol device on a serial port; survives unplug/replug and garbage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import serial
import serial_asyncio_fast

from ...backoff import Backoff, LinkState
from ...decoders.line import MAX_LINE, decode_line
from ...devices import Device
from ...errors import DecodeError
from ...model import DeadLetter
from ...profiles import DeviceProfile, SerialSettings
from ..base import LinkedSource, SourceEvent

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


class SerialLineSource(LinkedSource):
    """Reads newline-terminated frames from `device.port` and decodes them with the profile."""

    def __init__(self, device: Device, profile: DeviceProfile) -> None:
        assert device.port is not None
        self.name = f"serial:{device.id}"
        self._device = device
        self._profile = profile
        self._settings = serial_settings(device, profile)
        self.stale_after_s = self._settings.stale_after_s
        self.state = LinkState.STOPPED
        self.last_error: str | None = None
        self._backoff = Backoff(initial=0.5, cap=10.0)

    async def events(self) -> AsyncIterator[SourceEvent]:
        assert self._device.port is not None
        while True:
            self.state = LinkState.CONNECTING
            try:
                reader, writer = await serial_asyncio_fast.open_serial_connection(
                    url=self._device.port, limit=MAX_LINE, **port_kwargs(self._settings)
                )
            except (OSError, serial.SerialException) as exc:
                await self._wait(exc)
                continue
            self.state = LinkState.CONNECTED
            self._backoff.reset()
            log.info("%s: opened %s", self.name, self._device.port)
            try:
                async for event in self._lines(reader):
                    yield event
            except (OSError, serial.SerialException, asyncio.IncompleteReadError) as exc:
                await self._wait(exc)
            finally:
                writer.close()

    async def _wait(self, exc: BaseException) -> None:
        first = self.state is not LinkState.WAITING
        self.state = LinkState.WAITING
        self.last_error = f"{type(exc).__name__}: {exc}"
        delay = self._backoff.next_delay()
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: port %s unavailable (%s); retrying in %.1fs",
            self.name,
            self._device.port,
            exc,
            delay,
        )
        await asyncio.sleep(delay)

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
