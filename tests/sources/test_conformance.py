"""One conformance test for every Source: same protocol, typed events, clean cancel and re-entry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from edge_agent.config.agent import BleConfig, load_config
from edge_agent.config.profiles import ProfileRegistry
from edge_agent.core.events import Advertisement, DeadLetter, Device, MirrorEvent, SensorReading
from edge_agent.core.tasks import cancel_and_wait
from edge_agent.decoders.line import with_checksum
from edge_agent.links import Link, LinkState
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.sim.radio import SimulatedScanner
from edge_agent.sim.serial import PtyPort
from edge_agent.sources.base import Acked, Source, SourceInfo
from edge_agent.sources.ble.bleak import BleakSource
from edge_agent.sources.mqtt import mirror_source, remote_scanner_source
from edge_agent.sources.serial import SerialLineSource
from edge_agent.sources.serial.modbus import ModbusSource
from edge_agent.testing.bluez import bluez
from edge_agent.testing.config import write_config
from edge_agent.testing.modbus import ModbusSensor
from edge_agent.testing.wait import eventually

PROFILES = ProfileRegistry.load()
UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
MODEL_TYPES = (Advertisement, SensorReading, MirrorEvent, DeadLetter)

# A source under test, and a coroutine that makes its device say something.
Rig = tuple[Source, Callable[[], Awaitable[None]]]
RigFactory = Callable[[Path], AbstractAsyncContextManager[Rig]]


async def nothing() -> None:
    return None


@asynccontextmanager
async def simulated_ble(tmp: Path) -> AsyncIterator[Rig]:
    yield SimulatedBleSource(arrivals(f"{UUID}:1:1", first_at_s=0), speed=5), nothing


@asynccontextmanager
async def bleak_simulated_radio(tmp: Path) -> AsyncIterator[Rig]:
    scenario = arrivals(f"{UUID}:1:1", first_at_s=0)
    source = BleakSource(BleConfig(), scanner_factory=lambda cb: SimulatedScanner(scenario, cb, speed=5))
    yield source, nothing


@asynccontextmanager
async def bleak_bluez(tmp: Path) -> AsyncIterator[Rig]:
    async with bluez() as radio:
        advert = {0x004C: b"\x02\x15" + bytes.fromhex(UUID.replace("-", "")) + b"\x00\x01\x00\x01\xc5"}

        async def say() -> None:
            await radio.advertise("C0:FF:EE:00:00:01", -60, manufacturer_data=advert)

        yield BleakSource(BleConfig(mode="active")), say


def _config(tmp: Path, broker: MosquittoBroker):  # type: ignore[no-untyped-def]
    return load_config(write_config(tmp / "agent.yaml", data_dir=tmp / "data", mqtt={"url": broker.url}))


@asynccontextmanager
async def mqtt_mirror(tmp: Path) -> AsyncIterator[Rig]:
    with MosquittoBroker() as broker:
        config = _config(tmp, broker)

        async def say() -> None:
            async with aiomqtt.Client("127.0.0.1", broker.port) as c:
                body = {"event": "session_start", "session_id": "s", "ts": time.time()}
                await c.publish(f"{config.topic_prefix}/mirror/m1/events", json.dumps(body), qos=1)

        yield mirror_source(config), say


@asynccontextmanager
async def mqtt_scanner(tmp: Path) -> AsyncIterator[Rig]:
    with MosquittoBroker() as broker:
        config = _config(tmp, broker)

        async def say() -> None:
            async with aiomqtt.Client("127.0.0.1", broker.port) as c:
                body = {"id": "AA:BB:CC:DD:EE:FF", "rssi": -60}
                await c.publish("home/scanner-1/BTtoMQTT/AABBCCDDEEFF", json.dumps(body))

        yield remote_scanner_source(config), say


@asynccontextmanager
async def serial_line(tmp: Path) -> AsyncIterator[Rig]:
    with PtyPort(tmp / "ttyLINE") as pty:
        device = Device("c1", "serial-people-counter", "serial", port=str(pty.path))

        async def say() -> None:
            pty.write(with_checksum("in=1,out=0,seq=1"))

        yield SerialLineSource(device, PROFILES.get("serial-people-counter")), say


@asynccontextmanager
async def modbus(tmp: Path) -> AsyncIterator[Rig]:
    async with ModbusSensor(tmp, registers={1: 200, 2: 500}) as sensor:
        device = Device("th", "modbus-temp-humidity", "serial", port=str(sensor.port), settings={"poll_s": 0.1})
        yield ModbusSource(device, PROFILES.get("modbus-temp-humidity")), nothing


RIGS: dict[str, RigFactory] = {
    "simulated-ble": simulated_ble,
    "bleak-simulated-radio": bleak_simulated_radio,
    "bleak-bluez": bleak_bluez,
    "mqtt-mirror": mqtt_mirror,
    "mqtt-remote-scanner": mqtt_scanner,
    "serial-line": serial_line,
    "modbus-rtu": modbus,
}


async def first_event(source: Source, say: Callable[[], Awaitable[None]]) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20  # not asyncio.timeout: a cancel inside aiomqtt's publish can be lost on 3.11
    async with source.connect() as events:
        pending = asyncio.ensure_future(anext(events))
        while not pending.done():
            assert loop.time() < deadline, "no event within 20 s"
            await say()
            await asyncio.wait({pending}, timeout=0.3)
        return pending.result()


@pytest.mark.parametrize("rig", sorted(RIGS))
async def test_source_conformance(rig: str, tmp_path: Path) -> None:
    async with RIGS[rig](tmp_path) as (source, say):
        assert isinstance(source, Source)
        assert isinstance(source.name, str) and source.name
        assert isinstance(source.link, Link) and isinstance(source.info(), SourceInfo)
        item = await first_event(source, say)
        event = item.event if isinstance(item, Acked) else item
        assert isinstance(event, MODEL_TYPES), f"{rig} yielded {item!r}"
        if isinstance(item, Acked):
            item.ack(True)  # acknowledging is always safe, even after the iteration closed

        # Cancelling a consumer mid-session ends cleanly, and the source can connect again.
        async def consume() -> None:
            async with source.connect() as events:
                async for _ in events:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        again = await first_event(source, say)
        assert isinstance(again.event if isinstance(again, Acked) else again, MODEL_TYPES)

        # Its link runs the sessions: it shows connected while one is up, stopped after.
        feed = asyncio.create_task(source.link.run(source.connect, lambda events: drain(events, say)))
        await eventually(lambda: source.link.state is LinkState.CONNECTED or feed.done())
        await cancel_and_wait([feed])  # aiomqtt's publish (in say) can swallow one cancel on 3.11
        assert source.link.state is LinkState.STOPPED


async def drain(events: AsyncIterator[object], say: Callable[[], Awaitable[None]]) -> None:
    async for _ in events:
        await say()
