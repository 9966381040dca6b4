"""The staff tablet's customer card and its live changes, rendered to JSON here and nowhere else
(docs/interface.md § Tablet stream)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .events import Alert, AlertKind, ScoredOffer, offer_json


@dataclass(frozen=True, slots=True)
class Item:
    """A SKU as staff read it; `amount` for what was bought."""

    sku: str
    title: str
    amount: float | None = None

    def to_json(self) -> dict[str, Any]:
        named: dict[str, Any] = {"sku": self.sku, "title": self.title}
        return named if self.amount is None else {**named, "amount": self.amount}


@dataclass(frozen=True, slots=True)
class Activity:
    """What this visit tried, liked and disliked at the mirror."""

    tried: tuple[Item, ...] = ()
    liked: tuple[Item, ...] = ()
    disliked: tuple[Item, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {name: [i.to_json() for i in getattr(self, name)] for name in ("tried", "liked", "disliked")}


@dataclass(frozen=True, slots=True)
class Friends:
    """Friends' advice on the card: votes up and down and the strongest advice — never who voted."""

    up: int
    down: int
    advice: float

    def to_json(self) -> dict[str, Any]:
        return {"up": self.up, "down": self.down, "advice": self.advice}


@dataclass(frozen=True, slots=True)
class Change:
    """One live change, and the cards it is for: the card of `alert_id`, else the customer's newest
    entry card, or — with `requests_for` — every unanswered size request of theirs for those SKUs."""

    alert_id: str | None = None
    customer_id: str | None = None
    requests_for: frozenset[str] = frozenset()
    action: str | None = None
    zone: str | None = None
    left: bool = False
    mirror: Activity | None = None
    bought: tuple[Item, ...] = ()
    friends: Friends | None = None
    offers: tuple[ScoredOffer, ...] | None = None

    @property
    def every(self) -> bool:
        """It is for all the cards it targets, not only the newest."""
        return bool(self.requests_for)

    def targets(self, card: Card) -> bool:
        alert = card.alert
        if self.alert_id is not None:
            return alert.alert_id == self.alert_id
        if alert.customer_id != self.customer_id or not alert.customer_id:
            return False
        if self.requests_for:
            sku = dict(alert.details).get("sku")
            return alert.kind == AlertKind.SIZE_REQUEST and card.action is None and sku in self.requests_for
        return alert.kind == AlertKind.ENTRY

    def fields(self) -> dict[str, Any]:
        """What changed, as the `update` event says it."""
        out: dict[str, Any] = {}
        if self.action is not None:
            out["action"] = self.action
        if self.zone is not None:
            out["zone"] = self.zone
        if self.left:
            out["left"] = True
        if self.mirror is not None:
            out["mirror"] = self.mirror.to_json()
        if self.bought:
            out["bought"] = [i.to_json() for i in self.bought]
        if self.friends is not None:
            out["friends"] = self.friends.to_json()
        if self.offers is not None:
            out["offers"] = [offer_json(o) for o in self.offers]
        return out


@dataclass(frozen=True, slots=True)
class Card:
    """An alert as the tablets show it, with what happened since (`event_id`: its place in the stream)."""

    alert: Alert
    event_id: int
    action: str | None = None
    zone: str | None = None  # where they are now, once they moved
    left: bool = False
    mirror: Activity | None = None
    bought: tuple[Item, ...] = ()  # a visit can see several sales: the card lists them all
    friends: Friends | None = None
    offers: tuple[ScoredOffer, ...] | None = None  # re-ranked in the moment

    @classmethod
    def stored(cls, payload: dict[str, Any], event_id: int) -> Card:
        """A card from before a restart (the alert as it was stored)."""
        return cls(Alert.from_card(payload), event_id)

    def apply(self, change: Change) -> tuple[Card, Patch]:
        """The card after `change`, and the update its tablets receive (with every sale so far)."""
        after = self._changed(change)
        said = replace(change, bought=after.bought) if change.bought else change
        return after, Patch(self.alert.alert_id, said)

    def _changed(self, change: Change) -> Card:
        return replace(
            self,
            action=change.action if change.action is not None else self.action,
            zone=change.zone if change.zone is not None else self.zone,
            left=self.left or change.left,
            mirror=change.mirror if change.mirror is not None else self.mirror,
            bought=self.bought + change.bought,
            friends=change.friends if change.friends is not None else self.friends,
            offers=change.offers if change.offers is not None else self.offers,
        )

    def to_json(self, *, action: str | None = None) -> dict[str, Any]:
        """The card; `action`: the one staff stored, which wins over the live one."""
        live = Change(
            action=action or self.action,
            zone=self.zone,
            left=self.left,
            mirror=self.mirror,
            bought=self.bought,
            friends=self.friends,
            offers=self.offers,
        )
        return {**self.alert.card(), "event_id": self.event_id, "action": None, **live.fields()}


@dataclass(frozen=True, slots=True)
class Patch:
    """A change as one card receives it (the stream's `update` event)."""

    alert_id: str
    change: Change

    def to_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, **self.change.fields()}
