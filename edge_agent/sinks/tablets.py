"""The tablet sink: alerts fan out to every open page over server-sent events."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..core.events import Alert, AlertKind


class AlertHub:
    """Keeps the recent alerts (for replay after a reconnect) and the open streams."""

    def __init__(self, *, keep: int = 500, per_client: int = 100) -> None:
        self._recent: deque[tuple[int, dict[str, Any]]] = deque(maxlen=keep)
        self._clients: set[asyncio.Queue[tuple[int, dict[str, Any]]]] = set()
        self._per_client = per_client
        self._last_id = 0

    def seed(self, cards: list[dict[str, Any]]) -> None:
        """Alerts from before a restart, so a reconnecting tablet still gets what it missed."""
        for card in cards:
            event_id = int(card["event_id"])
            self._recent.append((event_id, card))
            self._last_id = max(self._last_id, event_id)

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Drop the cards of customers who may no longer be recognised (forgotten, consent withdrawn)."""
        kept = [(i, card) for i, card in self._recent if keep(str(card.get("customer_id") or ""))]
        if len(kept) != len(self._recent):
            self._recent = deque(kept, maxlen=self._recent.maxlen)

    async def deliver(self, alert: Alert) -> None:
        event_id = max(int(alert.ts * 1000), self._last_id + 1)  # ms timestamps: stable across restarts
        self._last_id = event_id
        card = {**alert.card(), "event_id": event_id}
        self._recent.append((event_id, card))
        self._push((event_id, card))

    def update(self, alert_id: str | None, customer_id: str | None, fields: dict[str, Any]) -> None:
        """A live change to a card (an action, the zone, mirror activity, left the store), pushed as `update`."""
        for i in range(len(self._recent) - 1, -1, -1):
            event_id, card = self._recent[i]
            if (alert_id and card["alert_id"] == alert_id) or (
                customer_id and card.get("customer_id") == customer_id and card.get("kind", "entry") == "entry"
            ):
                if "bought" in fields:  # a visit can see several sales: the card lists them all
                    fields = {**fields, "bought": [*card.get("bought", []), *fields["bought"]]}
                self._recent[i] = (event_id, {**card, **fields})
                self._push((event_id, {"alert_id": card["alert_id"], **fields, "update": True}))
                return

    def bought(self, customer_id: str, skus: Sequence[str]) -> None:
        """A sale: the customer's open size requests for what they bought are done (docs/interface.md)."""
        wanted = set(skus)
        for i, (event_id, card) in enumerate(self._recent):
            open_request = card.get("kind") == AlertKind.SIZE_REQUEST and not card.get("action")
            if open_request and card.get("customer_id") == customer_id and card.get("sku") in wanted:
                self._recent[i] = (event_id, {**card, "action": "bought"})
                self._push((event_id, {"alert_id": card["alert_id"], "action": "bought", "update": True}))

    def _push(self, item: tuple[int, dict[str, Any]]) -> None:
        for queue in list(self._clients):
            if queue.full():  # a stalled tablet loses its oldest event, not the others' stream
                queue.get_nowait()
            queue.put_nowait(item)

    def since(self, last_id: int) -> list[tuple[int, dict[str, Any]]]:
        return [(i, card) for i, card in self._recent if i > last_id]

    def knows(self, alert_id: str) -> bool:
        return any(card["alert_id"] == alert_id for _, card in self._recent)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return [card for _, card in list(self._recent)[-limit:]]

    def subscribe(self) -> asyncio.Queue[tuple[int, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue(self._per_client)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, dict[str, Any]]]) -> None:
        self._clients.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._clients)
