"""A broken source is restarted with backoff and never stops the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from edge_agent.config.agent import load_config
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import SimulatedBleSource
from edge_agent.sources.base import SourceEvent
from edge_agent.testing.config import write_config
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.wait import eventually


class Exploding(ScriptedSource):
    """A source whose device driver has a bug."""

    def __init__(self) -> None:
        super().__init__("exploding", self._play)
        self.attempts = 0

    async def _play(self) -> AsyncIterator[SourceEvent]:
        self.attempts += 1
        raise ZeroDivisionError("driver bug")
        yield  # pragma: no cover - makes this an async generator


async def test_a_failing_source_is_restarted_and_the_others_keep_going(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "a.yaml", data_dir=tmp_path / "d", mqtt={"url": "mqtt://127.0.0.1:1"}))
    broken = Exploding()
    ble = SimulatedBleSource(arrivals("f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:1", first_at_s=0, stay_s=30), speed=5)
    agent = Agent(config, [broken, ble])
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: broken.attempts >= 2 and agent.stats.counters["ble_adverts"] >= 20)
    snapshot = agent.snapshot()["sources"]
    assert snapshot["exploding"]["restarts"] >= 1
    assert snapshot["exploding"]["last_error"] == "ZeroDivisionError: driver bug"
    assert snapshot["ble-sim"]["state"] == "running"
    stop.set()
    await task
