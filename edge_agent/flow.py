"""The queue between sources and the pipeline: bounded, with BLE coalescing under load.

Sensor readings, mirror events, dead letters and anything awaiting an acknowledgement are never
dropped: when their lane is full, `put()` waits, which pushes back on the source (and, for MQTT,
on the broker through unacknowledged messages). BLE advertisements are different: a newer one
from the same phone at the same scanner supersedes an older one still waiting, so under load
they are coalesced per (scanner, address), keeping the newest with a smoothed RSSI.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict, deque

from .events import Advertisement
from .sources.base import SourceEvent


class EventQueue:
    """Two lanes: a FIFO for events that must not be lost, and a coalescing map for adverts."""

    def __init__(self, maxsize: int = 4096, max_beacons: int = 10_000) -> None:
        self._maxsize = maxsize
        self._max_beacons = max_beacons
        self._events: deque[SourceEvent] = deque()
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
            self._adverts[key] = dataclasses.replace(adv, rssi=round((pending.rssi + adv.rssi) / 2))
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
