"""The queue between sources and the pipeline: bounded, with BLE coalescing under load.

Sensor readings, mirror events, dead letters and anything awaiting an acknowledgement are never
dropped: when their lane is full, `put()` waits, which pushes back on the source (and, for MQTT,
on the broker through unacknowledged messages). They wait in one lane per device, served round
robin, so a device sending a burst delays its own events, not another device's. BLE
advertisements are different: a newer one from the same phone at the same scanner supersedes an
older one still waiting, so under load they are coalesced per (scanner, address), keeping the
newest with a smoothed RSSI.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from ..core.events import Acked, Advertisement, DeadLetter, MirrorEvent, Sale, SensorReading, SourceEvent


def device_of(item: SourceEvent) -> str:
    """The lane an event waits in: its device, or its kind for inputs from the HTTP API."""
    event = item.event if isinstance(item, Acked) else item
    if isinstance(event, SensorReading | MirrorEvent | DeadLetter | Sale):
        return event.device_id
    return type(event).__name__


class FairLanes:
    """A FIFO per device, served round robin; `len()` counts every waiting event."""

    def __init__(self) -> None:
        self._lanes: OrderedDict[str, deque[SourceEvent]] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def append(self, item: SourceEvent) -> None:
        key = device_of(item)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
        lane.append(item)
        self._size += 1

    def popleft(self) -> SourceEvent:
        key, lane = next(iter(self._lanes.items()))
        item = lane.popleft()
        self._size -= 1
        del self._lanes[key]
        if lane:
            self._lanes[key] = lane  # to the back of the round
        return item


def _with_rssi(adv: Advertisement, rssi: int) -> Advertisement:
    """`dataclasses.replace(adv, rssi=…)`, spelled out: this runs once per coalesced advert, at
    tens of thousands a second, and the generic `replace` costs four times as much."""
    return Advertisement(
        adv.address, rssi, adv.scanner, adv.ts, adv.manufacturer_data, adv.service_data,
        adv.service_uuids, adv.tx_power, adv.local_name, adv.rebuilt,
    )  # fmt: skip


class EventQueue:
    """Two lanes: fair per-device FIFOs for events that must not be lost, and a coalescing map for adverts."""

    def __init__(self, maxsize: int = 4096, max_beacons: int = 10_000) -> None:
        self._maxsize = maxsize
        self._max_beacons = max_beacons
        self._events = FairLanes()
        self._adverts: OrderedDict[tuple[str, str], Advertisement] = OrderedDict()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.coalesced = 0
        self.dropped = 0

    def qsize(self) -> int:
        return len(self._events) + len(self._adverts)

    def empty(self) -> bool:
        return not self._events and not self._adverts

    async def put(self, item: SourceEvent) -> None:
        if isinstance(item, Advertisement):
            self.put_advert(item)
            return
        while len(self._events) >= self._maxsize:
            self._writable.clear()
            await self._writable.wait()
        self._events.append(item)
        self._readable.set()

    def put_advert(self, adv: Advertisement) -> None:
        key = (adv.scanner, adv.address)
        pending = self._adverts.get(key)
        if pending is not None:
            # Superseded while waiting: keep the newest, with RSSI smoothed over the two.
            self._adverts[key] = _with_rssi(adv, round((pending.rssi + adv.rssi) / 2))
            self.coalesced += 1
            return
        if len(self._adverts) >= self._max_beacons:
            self.dropped += 1
            return
        self._adverts[key] = adv
        self._readable.set()

    def get_nowait(self) -> SourceEvent:
        if self._events:
            item = self._events.popleft()
            if len(self._events) < self._maxsize:
                self._writable.set()
            return item
        if self._adverts:
            return self._adverts.popitem(last=False)[1]
        raise asyncio.QueueEmpty

    async def get(self) -> SourceEvent:
        while self.empty():
            self._readable.clear()
            await self._readable.wait()
        return self.get_nowait()
