"""A Modbus RTU sensor served by pymodbus' own server on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from types import TracebackType
from typing import Self

from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..sim.serial import PtyBridge


class ModbusSensor:
    """`async with ModbusSensor(tmp) as s:` serves registers on `s.port` (a pty the agent opens)."""

    def __init__(
        self, folder: Path, *, unit_id: int = 1, registers: dict[int, int] | None = None, baudrate: int = 9600
    ) -> None:
        self.port = folder / "ttyMODBUS"
        self._bridge = PtyBridge(folder / "ttyMODBUS-server", self.port)
        self._unit_id = unit_id
        self._baudrate = baudrate
        self.registers: dict[int, int] = dict(registers or {})
        self.reads = 0
        self._task: asyncio.Task[None] | None = None
        self._server: ModbusSerialServer | None = None

    def set(self, address: int, value: int) -> None:
        """Change a register (16-bit, two's complement for negatives); the next poll sees it."""
        self.registers[address] = value & 0xFFFF

    async def _serve_current(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        self.reads += 1
        for register, value in self.registers.items():
            if 0 <= register - start_address < len(current_registers):
                current_registers[register - start_address] = value & 0xFFFF

    async def __aenter__(self) -> Self:
        self._bridge.__enter__()
        device = SimDevice(
            id=self._unit_id,
            simdata=SimData(address=0, count=64, values=0, datatype=DataType.REGISTERS),
            action=self._serve_current,
        )
        self._server = ModbusSerialServer(
            device, framer=FramerType.RTU, port=str(self._bridge.a.path), baudrate=self._baudrate
        )
        self._task = asyncio.create_task(self._server.serve_forever())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._bridge.__exit__(exc_type, exc, tb)
