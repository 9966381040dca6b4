"""A BLE backend that plays a scenario of beacons moving past scanners."""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ... import beacons
from ...config.yamlio import validate_file
from ...core.errors import ConfigError
from ...core.events import Advertisement, SourceEvent
from ...links import Link
from ..base import SourceInfo

OUT_OF_RANGE_DBM = -100


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keyframe(_Model):
    """RSSI a scanner hears from a beacon at time `t` (seconds from the start); linear between."""

    t: Annotated[float, Field(ge=0)]
    rssi: Annotated[float, Field(ge=-130, le=0)]
    scanner: str = "local"


class BeaconScript(_Model):
    """One simulated beacon: what it advertises and how loud each scanner hears it."""

    address: Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")]
    # beacon format → identifier it advertises; a format's name works as a key of its own too
    # (`ibeacon: UUID:major:minor`), and an anonymous phone advertises nothing we know
    identifiers: dict[str, str] = {}
    interval_s: Annotated[float, Field(gt=0.01, le=60)] = 1.0
    noise_db: Annotated[float, Field(ge=0, le=20)] = 0.0
    drop_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    path: list[Keyframe]

    @model_validator(mode="before")
    @classmethod
    def _format_keys(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        named = {k: v for k, v in value.items() if k in beacons.kinds() and v is not None}
        rest = {k: v for k, v in value.items() if k not in beacons.kinds()}
        return {**rest, "identifiers": {**rest.get("identifiers", {}), **named}} if named else rest

    @model_validator(mode="after")
    def _known_formats(self) -> BeaconScript:
        for kind, identifier in self.identifiers.items():
            beacons.get(kind).check(identifier)
        return self

    def rssi_at(self, t: float, scanner: str) -> float | None:
        frames = [k for k in self.path if k.scanner == scanner]
        if not frames or t < frames[0].t or t > frames[-1].t:
            return None
        for a, b in pairwise(frames):
            if a.t <= t <= b.t:
                span = b.t - a.t
                return a.rssi if span == 0 else a.rssi + (b.rssi - a.rssi) * (t - a.t) / span
        return frames[-1].rssi

    def advertisement(self, rssi: int, scanner: str, ts: float) -> Advertisement:
        mfg, svc = beacons.advert_fields(self.identifiers)
        return Advertisement(self.address, rssi, scanner, ts, mfg, svc)


class Scenario(_Model):
    """A scripted BLE world: `beacons` heard by scanners over `duration_s` seconds."""

    duration_s: Annotated[float, Field(gt=0)]
    seed: int = 1
    beacons: list[BeaconScript]


def load_scenario(path: Path) -> Scenario:
    return validate_file(Scenario, path, ConfigError)


@dataclass(order=True, slots=True)
class _Due:
    t: float
    index: int = field(compare=True)


class SimulatedBleSource:
    """Plays a Scenario in real time divided by `speed`; every scanner in it is simulated."""

    def __init__(
        self, scenario: Scenario, *, speed: float = 1.0, name: str = "ble-sim", loop_forever: bool = False
    ) -> None:
        self.name = name
        self._scenario = scenario
        self._speed = speed
        self._loop_forever = loop_forever
        self._rng = random.Random(scenario.seed)
        self.link = Link(f"{name}: scenario")

    def info(self) -> SourceInfo:
        return SourceInfo()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncIterator[SourceEvent]]:
        yield self.events()

    def scanners(self) -> Sequence[str]:
        return sorted({k.scanner for b in self._scenario.beacons for k in b.path})

    async def events(self) -> AsyncIterator[SourceEvent]:
        while True:
            async for adv in self._play_once():
                yield adv
            if not self._loop_forever:
                return

    async def _play_once(self) -> AsyncIterator[Advertisement]:
        beacons = self._scenario.beacons
        scanners = self.scanners()
        queue = [_Due(b.path[0].t if b.path else 0.0, i) for i, b in enumerate(beacons)]
        heapq.heapify(queue)
        start = time.monotonic()
        while queue:
            due = heapq.heappop(queue)
            if due.t > self._scenario.duration_s:
                continue
            delay = start + due.t / self._speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            beacon = beacons[due.index]
            for scanner in scanners:
                level = beacon.rssi_at(due.t, scanner)
                if level is None:
                    continue
                heard = level + self._rng.gauss(0, beacon.noise_db) if beacon.noise_db else level
                if heard < OUT_OF_RANGE_DBM or self._rng.random() < beacon.drop_rate:
                    continue
                yield beacon.advertisement(round(heard), scanner, time.time())
            # BLE adds a random 0–10 ms advDelay to each interval.
            heapq.heappush(queue, _Due(due.t + beacon.interval_s + self._rng.uniform(0, 0.01), due.index))
