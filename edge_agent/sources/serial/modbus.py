"""A Modbus RTU device polled through pymodbus; registers, types and scales from its profile."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from ...config.profiles import DeviceProfile, ModbusSettings
from ...core.errors import LinkError
from ...core.events import DeadLetter, Device
from ...decoders.modbus import check_frame, decode_registers, register_span
from ...links import Link
from ..base import SourceEvent, SourceInfo
from .line import serial_settings

log = logging.getLogger(__name__)


class ModbusSource:
    """Polls one device every `poll_s`; a silent, unplugged or garbled device is retried, never fatal."""

    def __init__(self, device: Device, profile: DeviceProfile) -> None:
        assert device.port is not None and profile.modbus is not None
        self.name = f"modbus:{device.id}"
        self._device = device
        self._profile = profile
        self._serial = serial_settings(device, profile)
        overrides = {k: v for k, v in device.settings.items() if k in ModbusSettings.model_fields}
        self._modbus = profile.modbus.model_copy(update=overrides)
        self._first, self._count = register_span(profile)
        self.link = Link(f"{self.name}: port {device.port}", initial=0.5, cap=10.0, logger=log)
        self._frame_problem: str | None = None

    def info(self) -> SourceInfo:
        return SourceInfo(stale_after_s=self._serial.stale_after_s)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        # pymodbus drops frames with a bad CRC silently; note why, so the failure is counted right.
        if not sending and data:
            self._frame_problem = check_frame(data) or self._frame_problem
        return data

    def _client(self) -> AsyncModbusSerialClient:
        s = self._serial
        return AsyncModbusSerialClient(
            self._device.port or "",
            framer=FramerType.RTU,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            timeout=self._modbus.timeout_s,
            retries=0,
            reconnect_delay=0,
            trace_packet=self._trace,
        )

    async def _read(self, client: AsyncModbusSerialClient) -> list[int]:
        unit = self._modbus.unit_id
        if self._modbus.function == "input":
            response = await client.read_input_registers(self._first, count=self._count, device_id=unit)
        else:
            response = await client.read_holding_registers(self._first, count=self._count, device_id=unit)
        if response.isError():
            raise ModbusException(f"exception response {response}")
        return list(response.registers)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        client = self._client()
        try:
            if not await client.connect():
                raise LinkError(f"cannot open {self._device.port}")
            yield self._poll(client)
        finally:
            client.close()

    async def _poll(self, client: AsyncModbusSerialClient) -> AsyncIterator[SourceEvent]:
        device_id = self._device.id
        while True:
            started = time.monotonic()
            self._frame_problem = None
            try:
                registers = await self._read(client)
            except ModbusException as exc:
                reason = self._frame_problem or ("exception_response" if "exception" in str(exc) else "no_response")
                yield DeadLetter(device_id, reason, time.time(), b"", str(exc)[:200])
                if not client.connected:
                    raise LinkError(f"{self._device.port} went away", lost=True) from None
            else:
                readings, errors = decode_registers(self._profile, device_id, self._first, registers, time.time())
                for reading in readings:
                    yield reading
                for error in errors:
                    yield DeadLetter(device_id, error.reason, time.time(), b"", error.detail)
            await asyncio.sleep(max(0.0, self._modbus.poll_s - (time.monotonic() - started)))
