"""Serial devices on real pseudo-terminals: line protocol and Modbus RTU, garbage, unplug, silence."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from edge_agent.config.agent import load_config
from edge_agent.config.profiles import ProfileRegistry
from edge_agent.core.events import Device
from edge_agent.decoders.line import with_checksum, xor_checksum
from edge_agent.decoders.modbus import frame
from edge_agent.runtime import Agent
from edge_agent.sim.serial import PtyPort
from edge_agent.sources.base import Source
from edge_agent.sources.serial import SerialLineSource
from edge_agent.sources.serial.modbus import ModbusSource
from edge_agent.testing.config import write_config
from edge_agent.testing.modbus import ModbusSensor
from edge_agent.testing.wait import eventually

PROFILES = ProfileRegistry.load()


@asynccontextmanager
async def agent_with(tmp_path: Path, source: Source) -> AsyncIterator[Agent]:
    config = load_config(
        write_config(tmp_path / "agent.yaml", data_dir=tmp_path / "data", mqtt={"url": "mqtt://127.0.0.1:1"})
    )
    agent = Agent(config, [source])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.ready.is_set() or task.done())
    try:
        yield agent
    finally:
        stop.set()
        await task


def counter(port: Path, **settings: object) -> Device:
    return Device("door-1", "serial-people-counter", "serial", port=str(port), settings=settings)


def link(agent: Agent, name: str) -> object:
    return agent.snapshot()["sources"].get(name, {}).get("link")


async def test_line_sensor_readings_and_garbage(tmp_path: Path) -> None:
    with PtyPort(tmp_path / "ttyCOUNTER") as pty:
        source = SerialLineSource(counter(pty.path), PROFILES.get("serial-people-counter"))
        async with agent_with(tmp_path, source) as agent:
            await eventually(lambda: link(agent, "serial:door-1") == "connected")
            pty.write(with_checksum("in=3,out=1,seq=1"))
            pty.write(b"in=3,out=1,seq=2*00\n")  # bad checksum
            pty.write(b"in=\xff\xfe,seq=3*%02X\n" % xor_checksum(b"in=\xff\xfe,seq=3"))  # not ASCII
            pty.write(with_checksum("in=3,colour=red"))  # unknown field
            pty.write(with_checksum("in=-4,out=1,seq=4"))  # below min
            pty.write(with_checksum("in=NaN,out=1,seq=5"))
            pty.write(b"x" * 5000)  # a line with no newline for a long time...
            await asyncio.sleep(0)
            pty.write(b"x" * 5000 + b"\n")  # ...that finally ends
            pty.write(with_checksum("in=5,out=2,seq=6"))
            await eventually(lambda: agent.stats.device_events["door-1"] == 6)  # 3 readings × 2 good lines
            await eventually(lambda: sum(agent.stats.dead_letters.values()) == 6)
            reasons = {reason for (_, reason) in agent.stats.dead_letters}
            assert reasons == {"bad_checksum", "bad_utf8", "unknown_field", "out_of_range", "bad_value", "too_large"}


async def test_line_sensor_survives_unplug_and_replug(tmp_path: Path) -> None:
    with PtyPort(tmp_path / "ttyCOUNTER") as pty:
        source = SerialLineSource(counter(pty.path), PROFILES.get("serial-people-counter"))
        async with agent_with(tmp_path, source) as agent:
            await eventually(lambda: link(agent, "serial:door-1") == "connected")
            pty.write(with_checksum("in=1,out=0,seq=1"))
            await eventually(lambda: agent.stats.device_events["door-1"] == 3)
            pty.unplug()
            await eventually(lambda: link(agent, "serial:door-1") == "waiting")
            pty.plug()
            await eventually(lambda: link(agent, "serial:door-1") == "connected")
            pty.write(with_checksum("in=2,out=0,seq=2"))
            await eventually(lambda: agent.stats.device_events["door-1"] == 6)
            assert agent.snapshot()["sources"]["serial:door-1"]["state"] == "running"


async def test_silent_device_shows_as_stale(tmp_path: Path) -> None:
    with PtyPort(tmp_path / "ttyCOUNTER") as pty:
        source = SerialLineSource(counter(pty.path, stale_after_s=0.3), PROFILES.get("serial-people-counter"))
        async with agent_with(tmp_path, source) as agent:
            await eventually(lambda: agent.snapshot()["sources"]["serial:door-1"]["state"] == "stale")
            pty.write(with_checksum("in=1,out=0,seq=1"))
            await eventually(lambda: agent.snapshot()["sources"]["serial:door-1"]["state"] == "running")


def modbus_device(port: Path) -> Device:
    return Device("th-1", "modbus-temp-humidity", "serial", port=str(port), settings={"poll_s": 0.1, "timeout_s": 0.3})


async def test_modbus_sensor_served_by_pymodbus(tmp_path: Path) -> None:
    async with ModbusSensor(tmp_path, registers={1: 215, 2: 456}) as sensor:
        source = ModbusSource(modbus_device(sensor.port), PROFILES.get("modbus-temp-humidity"))
        async with agent_with(tmp_path, source) as agent:
            await eventually(lambda: agent.stats.device_events["th-1"] >= 4)
            sensor.set(1, -55)  # -5.5 °C, two's complement on the wire
            sensor.set(2, 2000)  # 200 %: out of range, dead-lettered alone
            await eventually(lambda: agent.stats.dead_letters[("th-1", "out_of_range")] >= 1)
            before = agent.stats.device_events["th-1"]
            await eventually(lambda: agent.stats.device_events["th-1"] >= before + 2)  # temperature still flows
        payload = agent.snapshot()
    assert payload["dead_letters"][0]["reason"] == "out_of_range"
    conn = sqlite3.connect(tmp_path / "data" / "edge-agent.db")
    lo, hi = conn.execute(
        "SELECT lo, hi FROM open_sensors WHERE device = 'th-1' AND resource = 'temperature'"
    ).fetchone()
    assert (lo, hi) == (-5.5, 21.5)


async def test_modbus_garbage_frames_are_counted_and_polling_recovers(tmp_path: Path) -> None:
    """A device answering with bad CRCs and truncated frames, then correctly."""
    with PtyPort(tmp_path / "ttyRTU") as pty:
        answers = [
            b"\x01\x04\x04\x00\xd7\x01\xc8\x00\x00",  # bad CRC
            b"\x01\x04",  # truncated
            frame(b"\x01\x04\x04\x00\xd7\x01\xc8"),  # 21.5 °C, 45.6 %
        ]
        source = ModbusSource(modbus_device(pty.path), PROFILES.get("modbus-temp-humidity"))
        async with agent_with(tmp_path, source) as agent:
            served = 0
            loop = asyncio.get_running_loop()

            def answer() -> None:
                nonlocal served
                request = os.read(pty.master, 256)
                if len(request) >= 8:
                    os.write(pty.master, answers[min(served, len(answers) - 1)])
                    served += 1

            loop.add_reader(pty.master, answer)
            try:
                await eventually(lambda: agent.stats.device_events["th-1"] >= 2)
            finally:
                loop.remove_reader(pty.master)
            assert agent.stats.dead_letters[("th-1", "bad_crc")] == 1
            assert agent.stats.dead_letters[("th-1", "truncated")] == 1
