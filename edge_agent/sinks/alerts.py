"""MQTT sinks on the store broker: `{topic_prefix}/alerts` and mirror suggestions.

Each awaits the broker's confirmation of what it publishes, so a sink worker's own bounded
queue — not a queue shared with the other sink — absorbs an outage or a flood.
"""

from __future__ import annotations

import json
import time
from typing import Protocol

from ..core.events import Alert, MirrorEvent, OffersUpdated, ScoredOffer
from ..links.mqtt import MqttPublisher
from ..store import StoreWriter, rows


class AlertSink(Protocol):
    """Somewhere an alert goes once its rows are committed."""

    async def deliver(self, alert: Alert) -> None: ...


class MqttAlerts:
    """Publishes each alert as JSON, QoS 1, on `{topic_prefix}/alerts`; marks it published on PUBACK."""

    def __init__(self, publisher: MqttPublisher, topic_prefix: str, writer: StoreWriter) -> None:
        self._publisher = publisher
        self._topic = f"{topic_prefix}/alerts"
        self._writer = writer

    async def deliver(self, item: Alert | OffersUpdated) -> None:
        await self._publisher.publish(self._topic, json.dumps(item.to_json()).encode(), qos=1)
        if isinstance(item, Alert):
            await self._writer.submit(rows.alert_published(item.alert_id))


class MqttSuggestions:
    """Publishes `{topic_prefix}/mirror/{device_id}/suggestions` (QoS 1) for the mirror to show."""

    def __init__(self, publisher: MqttPublisher, topic_prefix: str) -> None:
        self._publisher = publisher
        self._prefix = topic_prefix

    async def deliver(
        self,
        item: tuple[MirrorEvent, list[ScoredOffer] | tuple[ScoredOffer, ...], list[tuple[str, str, int]]],
    ) -> None:
        event, suggestions, also_liked = item
        payload = {
            "session_id": event.session_id,
            "ts": time.time(),
            "trigger": {"event": event.event, "sku": event.sku},
            "suggestions": [
                {"offer_id": s.offer_id, "title": s.title, "score": round(s.score, 4), "reason": s.reason}
                for s in suggestions
            ],
            "also_liked": [{"sku": sku, "title": title, "support": n} for sku, title, n in also_liked],
        }
        topic = f"{self._prefix}/mirror/{event.device_id}/suggestions"
        await self._publisher.publish(topic, json.dumps(payload).encode())
