"""Alert sinks: the database (always) and the store broker's `{topic_prefix}/alerts`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Protocol

from ..model import Alert, MirrorEvent, ScoredOffer
from ..mqtt import MqttPublisher
from ..store import StoreWriter, Write


class SuggestionSink(Protocol):
    """Where mirror suggestions go."""

    async def deliver(self, event: MirrorEvent, suggestions: Sequence[ScoredOffer]) -> None: ...


class MqttSuggestions:
    """Publishes `{topic_prefix}/mirror/{device_id}/suggestions` (QoS 1) for the mirror to show."""

    def __init__(self, publisher: MqttPublisher, topic_prefix: str) -> None:
        self._publisher = publisher
        self._prefix = topic_prefix

    async def deliver(self, event: MirrorEvent, suggestions: Sequence[ScoredOffer]) -> None:
        payload = {
            "session_id": event.session_id,
            "ts": time.time(),
            "trigger": {"event": event.event, "sku": event.sku},
            "suggestions": [
                {"offer_id": s.offer_id, "title": s.title, "score": round(s.score, 4), "reason": s.reason}
                for s in suggestions
            ],
        }
        self._publisher.publish(f"{self._prefix}/mirror/{event.device_id}/suggestions", json.dumps(payload).encode())


class AlertSink(Protocol):
    """Somewhere an alert goes once decided."""

    async def deliver(self, alert: Alert) -> None: ...


class StoredAlerts:
    """Records every alert (the tablet page and `alert_actions` read them back)."""

    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    async def deliver(self, alert: Alert) -> None:
        await self._writer.submit(
            Write(
                "INSERT INTO alerts(alert_id, ts, customer_id, zone, payload) VALUES (?, ?, ?, ?, ?)",
                (
                    alert.alert_id,
                    alert.ts,
                    alert.customer_id,
                    alert.zone,
                    json.dumps({**alert.to_json(), "visits_90d": alert.visits_90d}),
                ),
            )
        )


class MqttAlerts:
    """Publishes each alert as JSON, QoS 1, on `{topic_prefix}/alerts`."""

    def __init__(self, publisher: MqttPublisher, topic_prefix: str) -> None:
        self._publisher = publisher
        self._topic = f"{topic_prefix}/alerts"

    async def deliver(self, alert: Alert) -> None:
        self._publisher.publish(self._topic, json.dumps(alert.to_json()).encode(), qos=1)
