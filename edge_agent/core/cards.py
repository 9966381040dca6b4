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
class Live:
    """What happened since the alert: on a card, all of it; in a change, only what changed."""

    action: str | None = None
    zone: str | None = None  # where they are now, once they moved
    left: bool = False
    mirror: Activity | None = None
    bought: tuple[Item, ...] = ()  # a visit can see several sales: the card lists them all
    friends: Friends | None = None
    offers: tuple[ScoredOffer, ...] | None = None  # re-ranked in the moment

    def then(self, later: Live) -> Live:
        """This, with `later` on top (sales add up; everything else is replaced when said)."""
        return Live(
            action=later.action if later.action is not None else self.action,
            zone=later.zone if later.zone is not None else self.zone,
            left=self.left or later.left,
            mirror=later.mirror if later.mirror is not None else self.mirror,
            bought=self.bought + later.bought,
            friends=later.friends if later.friends is not None else self.friends,
            offers=later.offers if later.offers is not None else self.offers,
        )

    def to_json(self) -> dict[str, Any]:
        """What is known, as the card and the `update` event say it (nothing for what is not)."""
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
class Change:
    """One live change, and the cards it is for: the card of `alert_id`, else the customer's newest
    entry card, or — with `requests_for` — every unanswered size request of theirs for those SKUs."""

    live: Live
    alert_id: str | None = None
    customer_id: str | None = None
    requests_for: frozenset[str] = frozenset()

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
            sku = alert.asked.sku if alert.asked is not None else None
            return alert.kind == AlertKind.SIZE_REQUEST and card.live.action is None and sku in self.requests_for
        return alert.kind == AlertKind.ENTRY


@dataclass(frozen=True, slots=True)
class Card:
    """An alert as the tablets show it, with what happened since (`event_id`: its place in the stream)."""

    alert: Alert
    event_id: int
    live: Live = Live()

    @classmethod
    def stored(cls, payload: dict[str, Any], event_id: int) -> Card:
        """A card from before a restart (the alert as it was stored)."""
        return cls(Alert.from_card(payload), event_id)

    def apply(self, change: Change) -> tuple[Card, Patch]:
        """The card after `change`, and the update its tablets receive (with every sale so far)."""
        after = replace(self, live=self.live.then(change.live))
        said = replace(change.live, bought=after.live.bought) if change.live.bought else change.live
        return after, Patch(self.alert.alert_id, said)

    def to_json(self, *, action: str | None = None) -> dict[str, Any]:
        """The card; `action`: the one staff stored, which wins over the live one."""
        live = replace(self.live, action=action or self.live.action)
        return {**self.alert.card(), "event_id": self.event_id, "action": None, **live.to_json()}


@dataclass(frozen=True, slots=True)
class Patch:
    """A change as one card receives it (the stream's `update` event)."""

    alert_id: str
    live: Live

    def to_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, **self.live.to_json()}
