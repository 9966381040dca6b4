"""The tablet sink: alerts fan out to every open page over server-sent events."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from ..core.cards import Card, Change, Patch
from ..core.events import Alert

Streamed = tuple[int, Card | Patch]  # (event id, a new card or a change to one)


class AlertHub:
    """Keeps the recent cards (for replay after a reconnect) and the open streams."""

    def __init__(self, *, keep: int = 500, per_client: int = 100) -> None:
        self._recent: deque[Card] = deque(maxlen=keep)
        self._clients: set[asyncio.Queue[Streamed]] = set()
        self._per_client = per_client
        self._last_id = 0

    def seed(self, cards: Iterable[Card]) -> None:
        """Alerts from before a restart, so a reconnecting tablet still gets what it missed."""
        for card in cards:
            self._recent.append(card)
            self._last_id = max(self._last_id, card.event_id)

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Drop the cards of customers who may no longer be recognised (forgotten, consent withdrawn)."""
        kept = [card for card in self._recent if keep(card.alert.customer_id)]
        if len(kept) != len(self._recent):
            self._recent = deque(kept, maxlen=self._recent.maxlen)

    async def deliver(self, alert: Alert) -> None:
        event_id = max(int(alert.ts * 1000), self._last_id + 1)  # ms timestamps: stable across restarts
        self._last_id = event_id
        card = Card(alert, event_id)
        self._recent.append(card)
        self._push((event_id, card))

    def update(self, change: Change) -> None:
        """A live change to the cards it is for (an action, the zone, mirror activity, a sale, left the
        store), pushed as `update`."""
        for i in range(len(self._recent) - 1, -1, -1):
            card = self._recent[i]
            if change.targets(card):
                self._recent[i], patch = card.apply(change)
                self._push((card.event_id, patch))
                if not change.every:
                    return

    def _push(self, item: Streamed) -> None:
        for queue in list(self._clients):
            if queue.full():  # a stalled tablet loses its oldest event, not the others' stream
                queue.get_nowait()
            queue.put_nowait(item)

    def since(self, last_id: int) -> list[Card]:
        return [card for card in self._recent if card.event_id > last_id]

    def knows(self, alert_id: str) -> bool:
        return any(card.alert.alert_id == alert_id for card in self._recent)

    def recent(self, limit: int = 50) -> list[Card]:
        return list(self._recent)[-limit:]

    def subscribe(self) -> asyncio.Queue[Streamed]:
        queue: asyncio.Queue[Streamed] = asyncio.Queue(self._per_client)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Streamed]) -> None:
        self._clients.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._clients)
