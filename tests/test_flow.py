"""The source → pipeline queue: adverts coalesce under load, everything else waits instead of dropping."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.core.events import Advertisement, SensorReading
from edge_agent.runtime.flow import EventQueue


def adv(address: str, rssi: int, ts: float = 0.0) -> Advertisement:
    return Advertisement(address, rssi, "local", ts)


async def test_repeated_adverts_of_one_beacon_coalesce_to_the_newest() -> None:
    q = EventQueue(maxsize=10)
    await q.put(adv("A", -60, 1))
    await q.put(adv("B", -70, 2))
    await q.put(adv("A", -80, 3))
    assert q.qsize() == 2 and q.coalesced == 1
    first = q.get_nowait()
    assert isinstance(first, Advertisement) and (first.address, first.rssi, first.ts) == ("A", -70, 3)


async def test_sensor_readings_are_never_dropped_the_producer_waits() -> None:
    q = EventQueue(maxsize=2)
    readings = [SensorReading("d", "t", float(i), float(i)) for i in range(5)]

    async def produce() -> None:
        for r in readings:
            await q.put(r)

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.01)
    assert not producer.done() and q.qsize() == 2  # blocked: backpressure, not loss
    got = [await q.get() for _ in readings]
    await producer
    assert got == readings


async def test_new_beacons_beyond_the_bound_are_counted_as_dropped() -> None:
    q = EventQueue(max_beacons=3)
    for i in range(5):
        await q.put(adv(f"B{i}", -60))
    assert q.qsize() == 3 and q.dropped == 2


async def test_events_lane_is_served_before_adverts() -> None:
    q = EventQueue()
    await q.put(adv("A", -60))
    reading = SensorReading("d", "t", 1.0, 1.0)
    await q.put(reading)
    assert q.get_nowait() is reading
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait(), q.get_nowait()


async def test_a_device_with_a_backlog_delays_only_itself() -> None:
    q = EventQueue(maxsize=100)
    for i in range(50):
        await q.put(SensorReading("noisy", "t", float(i), float(i)))
    await q.put(SensorReading("quiet", "t", 1.0, 1.0))
    served = [q.get_nowait() for _ in range(3)]
    assert [r.device_id for r in served if isinstance(r, SensorReading)] == ["noisy", "quiet", "noisy"]
    rest = [q.get_nowait() for _ in range(48)]
    assert [r.value for r in rest if isinstance(r, SensorReading)] == [float(i) for i in range(2, 50)]  # in order
