"""The local-adapter source with a simulated radio: detections become events; a stall is restarted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from edge_agent.config.agent import BleConfig
from edge_agent.core.events import Advertisement
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.radio import SimulatedScanner
from edge_agent.sources.base import SourceEvent
from edge_agent.sources.ble.bleak import BleakSource

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


async def test_watchdog_restarts_a_scanner_that_stopped_reporting() -> None:
    scanners: list[SimulatedScanner] = []

    def factory(callback):  # type: ignore[no-untyped-def]
        scanner = SimulatedScanner(arrivals(f"{UUID}:1:1", first_at_s=0, stay_s=60), callback, speed=5)
        scanners.append(scanner)
        return scanner

    source = BleakSource(BleConfig(), watchdog_s=0.5, scanner_factory=factory)
    seen: list[Advertisement] = []

    async def serve(events: AsyncIterator[SourceEvent]) -> None:
        async for event in events:
            assert isinstance(event, Advertisement)
            seen.append(event)
            if len(scanners) == 1 and len(seen) == 3:
                scanners[0].stall()  # BlueZ hangs: no error, just silence
            if len(scanners) == 2 and len(seen) >= 6:
                return  # the link is done when its session says so

    async with asyncio.timeout(20):
        await source.link.run(source.connect, serve)
    assert source.watchdog_restarts == 1
    assert source.link.failures == 1 and "no advertisement" in str(source.link.last_error)
    assert scanners[0].started == 1 and scanners[1].started == 1
    assert seen[0].scanner == "local" and seen[0].manufacturer_data
