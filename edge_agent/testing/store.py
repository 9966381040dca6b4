"""A running agent for tests: simulated customers, real SQLite, real HTTP on a free port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..config.agent import AgentConfig, load_config
from ..field.imports import import_customers, import_offers
from ..store import connect
from .config import write_config
from .wait import eventually

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_id": "c-ada",
        "display_name": "Ada Lovelace",
        "tier": "gold",
        "consent": True,
        "ibeacon": f"{UUID}:100:1",
        "preferred_categories": "shoes",
        "visits_90d": 7,
        "spend_90d": 640,
    },
    {
        "customer_id": "c-grace",
        "display_name": "Grace Hopper",
        "tier": "platinum",
        "consent": True,
        "preferred_categories": "outerwear",
        "visits_90d": 12,
    },
    {"customer_id": "c-bob", "display_name": "Bob", "tier": "gold", "consent": False, "ibeacon": f"{UUID}:100:2"},
]
OFFERS: list[dict[str, Any]] = [
    {"offer_id": "o-shoes", "title": "15% off running shoes", "category": "shoes", "kind": "discount", "value": "15%"},
    {"offer_id": "o-coat", "title": "Personal coat fitting", "category": "outerwear", "kind": "service"},
    {"offer_id": "o-scarf", "title": "Matching scarf", "category": "accessories", "kind": "accessory"},
]


def seeded_config(tmp: Path, **sections: Any) -> AgentConfig:
    """A config with the test customers and offers imported (through the CLI's import code)."""
    config = load_config(
        write_config(tmp / "agent.yaml", data_dir=tmp / "data", **{"scoring": {"holdout_pct": 0}, **sections})
    )
    conn = connect(config.db_path)
    for name, rows, importer in (("customers", CUSTOMERS, import_customers), ("offers", OFFERS, import_offers)):
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(rows))
        importer(conn, path)
    conn.close()
    return config


class Runnable(Protocol):
    """An agent as these fixtures use it (`runtime.Agent`; the fixtures never import it)."""

    ready: asyncio.Event

    async def run(self, stop: asyncio.Event) -> None: ...


A = TypeVar("A", bound=Runnable)


@asynccontextmanager
async def running_agent(agent: A) -> AsyncIterator[A]:
    """Start the agent, wait until every component runs, stop it gracefully afterwards."""
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await eventually(lambda: agent.ready.is_set() or task.done())
    if task.done():
        task.result()
    try:
        yield agent
    finally:
        stop.set()
        await task
