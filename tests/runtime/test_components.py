"""The runtime is a set of components: isolated sinks, a supervisor boundary around every input,
status as a fold, and a stop that drains upstream first."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt

from edge_agent.core.events import Acked, MirrorEvent, SourceEvent
from edge_agent.runtime import Agent
from edge_agent.runtime.inputs import PAIR_WITH
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually

TRY_ONS = 1000


class Flood(ScriptedSource):
    """A mirror trying on a thousand SKUs at once: a thousand suggestions to publish."""

    def __init__(self) -> None:
        super().__init__("flood-mirror", self._play)
        self.go = asyncio.Event()

    async def _play(self) -> AsyncIterator[SourceEvent]:
        await self.go.wait()
        now = time.time()
        yield MirrorEvent("mirror-1", "session_start", "s-1", now)
        for n in range(TRY_ONS):
            yield MirrorEvent("mirror-1", "try_on", "s-1", now + n / 1000, f"SKU-{n}")


async def test_a_flood_of_suggestions_never_drops_an_alert(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    config = seeded_config(tmp_path, mqtt={"url": mqtt_broker.url}, devices={"auto_register": True})
    flood = Flood()
    ada = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=0, stay_s=60), speed=1)
    mqtt_broker.stop()  # the store broker is away: both sinks have to queue
    async with running_agent(Agent(config, [flood, ada])) as agent:
        flood.go.set()
        await eventually(lambda: agent.stats.counters["entries_alert"] == 1)
        await eventually(lambda: agent.snapshot()["sinks"]["mirror-suggestions"]["dropped"] > 0)
        mqtt_broker.start()
        async with aiomqtt.Client("127.0.0.1", mqtt_broker.port) as staff:
            await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)
            async with asyncio.timeout(30):
                alert = json.loads((await anext(staff.messages)).payload)  # type: ignore[arg-type]
        sinks = agent.snapshot()["sinks"]
        await eventually(lambda: agent.snapshot()["sinks"]["mirror-suggestions"]["queued"] == 0, within=30)
        sinks = agent.snapshot()["sinks"]
    assert alert["customer_id"] == "c-ada"
    assert sinks["mqtt-alerts"]["dropped"] == 0
    suggestions = sinks["mirror-suggestions"]
    assert suggestions["dropped"] > 0 and suggestions["delivered"] + suggestions["dropped"] == TRY_ONS
    # Each try-on paired with the newest PAIR_WITH before it, not with all: the session cost stays flat.
    with connect(config.db_path) as db:
        (pairs,) = db.execute("SELECT COUNT(*) FROM cooccurrence").fetchone()
    assert pairs == sum(min(n, PAIR_WITH) for n in range(TRY_ONS))


async def test_an_input_no_handler_knows_is_a_dead_letter_and_is_acknowledged(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    acked: list[bool] = []

    async def odd() -> AsyncIterator[SourceEvent]:
        yield Acked(object(), acked.append)  # type: ignore[arg-type]  # a driver that sends what nobody expects

    async with running_agent(Agent(config, [ScriptedSource("odd", odd)])) as agent:
        await eventually(lambda: acked == [True])
        assert agent.stats.dead_letters[("object", "unhandled")] == 1
    with connect(config.db_path) as db:
        assert db.execute("SELECT reason FROM dead_letter_counts").fetchall() == [("unhandled",)]


async def test_status_is_a_fold_over_every_component(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent:
        names = {status.name for status in agent.statuses()}
        snapshot = agent.snapshot()
    assert {"store", "store-broker", "scoring", "sink:mqtt-alerts", "sink:tablets", "pipeline", "ticker"} <= names
    assert {"control", "web", "uplink", "source:http-inbox"} <= names
    assert snapshot["store"]["writable"] is True and snapshot["health"] == {"status": "ok"}
    assert set(snapshot["links"]) >= {"store-broker", "http-inbox"}


async def test_stopping_drains_what_was_taken_in(tmp_path: Path) -> None:
    config = seeded_config(tmp_path, devices={"auto_register": True})

    async def burst() -> AsyncIterator[SourceEvent]:
        now = time.time()
        for n in range(2000):
            yield MirrorEvent("mirror-1", "like", f"s-{n}", now, "SKU-1")

    source = ScriptedSource("burst", burst)
    async with running_agent(Agent(config, [source], queue_size=4096)) as agent:
        await eventually(lambda: agent.stats.device_events["mirror-1"] > 0)
    with connect(config.db_path) as db:  # every event taken from the source before the stop is stored
        stored = db.execute("SELECT COUNT(*) FROM events WHERE kind = 'mirror'").fetchone()[0]
    assert stored == agent.stats.device_events["mirror-1"]


async def test_the_heap_it_started_with_is_out_of_full_collections_while_it_runs(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    frozen_before = gc.get_freeze_count()
    async with running_agent(Agent(config)):
        assert gc.get_freeze_count() > frozen_before + 10_000  # modules, config, model, components
    assert gc.get_freeze_count() == 0  # handed back to the collector once it stopped
