"""A smart mirror in a fitting room: publishes session events to a real broker."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid

from ..core.errors import LinkError
from ..links.address import broker_address
from ..links.client import MqttClient, Options


class MirrorSimulator:
    """Plays shopper sessions (start, try-ons, likes, a size request, end) on the mirror topic."""

    def __init__(self, broker_url: str, topic_prefix: str, device_id: str = "mirror-1", *, seed: int = 3) -> None:
        self._host, self._port, _ = broker_address(broker_url)
        self.topic = f"{topic_prefix}/mirror/{device_id}/events"
        self._rng = random.Random(seed)
        self.published = 0

    def session(self, skus: list[str], customer_ref: str | None = None) -> list[dict[str, object]]:
        sid = uuid.uuid4().hex[:12]
        events: list[dict[str, object]] = [{"event": "session_start", "session_id": sid}]
        for sku in self._rng.sample(skus, k=min(3, len(skus))):
            events.append({"event": "try_on", "session_id": sid, "sku": sku})
            events.append({"event": self._rng.choice(["like", "like", "dislike"]), "session_id": sid, "sku": sku})
        events.append({"event": "session_end", "session_id": sid})
        if customer_ref:
            for e in events:
                e["customer_ref"] = customer_ref
        return events

    async def play(self, events: list[dict[str, object]], *, step_s: float) -> None:
        """Publish one scripted session (QoS 1)."""
        async with MqttClient(self._host, self._port, Options(f"sim-{self.topic}-script")) as client:
            for event in events:
                await client.publish(self.topic, json.dumps({**event, "ts": time.time()}), qos=1)
                self.published += 1
                await asyncio.sleep(step_s)

    async def run(self, skus: list[str], *, every_s: float = 20.0, step_s: float = 2.0) -> None:
        """Publish sessions forever (QoS 1), reconnecting when the broker goes away."""
        while True:
            try:
                async with MqttClient(self._host, self._port, Options(f"sim-{self.topic}")) as client:
                    while True:
                        for event in self.session(skus):
                            event["ts"] = time.time()
                            await client.publish(self.topic, json.dumps(event), qos=1)
                            self.published += 1
                            await asyncio.sleep(step_s)
                        await asyncio.sleep(every_s)
            except LinkError:
                await asyncio.sleep(2)
