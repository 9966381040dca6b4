"""The event model that flows from sources to sinks: frozen, slotted, typed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

HTTP_API = "http-api"  # the device id of inputs through the agent's own authenticated HTTP API

# a registered beacon format (`beacons/`), or "rotating" / "checkin" (already resolved to a customer id)
BeaconKind = str


@dataclass(frozen=True, slots=True)
class Advertisement:
    """One BLE advertisement as a scanner heard it."""

    address: str
    rssi: int
    scanner: str
    ts: float
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()
    tx_power: int | None = None
    local_name: str | None = None
    rebuilt: bool = False  # the frames were rebuilt from a scanner's decoded fields, not heard raw


@dataclass(frozen=True, slots=True)
class BeaconId:
    """A beacon identity in canonical text form, e.g. `ibeacon:<uuid>:<major>:<minor>`."""

    kind: BeaconKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class BeaconSighting:
    """A decoded beacon heard by one scanner."""

    beacon: BeaconId
    rssi: int
    scanner: str
    ts: float
    measured_power: int | None = None


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One resource value from a sensor device."""

    device_id: str
    resource: str
    value: float
    ts: float
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class MirrorEvent:
    """An event from a smart mirror."""

    device_id: str
    event: str  # a registered kind's name (edge_agent/mirror/); the built-ins are MirrorKind
    session_id: str
    ts: float
    sku: str | None = None
    customer_ref: str | None = None
    size: str | None = None  # on size_request: the size asked for
    circle: str | None = None  # on share_start: companions | remote | both
    nickname: str | None = None  # on share_start: what friends see instead of a name (≤ 20 characters)
    value: str | None = None  # on friend_vote: up | down | other_size | other_colour
    # The payload as received: stored in its row, and a redelivery has the same bytes (dedup key).
    raw: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not be used, kept as evidence."""

    device_id: str
    reason: str
    ts: float
    sample: bytes = b""
    detail: str = ""
    claimed: bool = False  # the device id came from the sender (an MQTT topic), not from our registry


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A signed app check-in, verified by the HTTP layer (for phones that cannot advertise).

    Its nonce is claimed in the same transaction as the visit it causes: a replay, even after
    a restart, changes nothing.
    """

    customer_id: str
    ts: float
    nonce: str = ""
    exp: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertAction:
    """Staff answered an alert on a tablet: ack, accepted or dismissed."""

    alert_id: str
    action: Literal["ack", "accepted", "dismissed"]
    ts: float
    offer_id: str | None = None


@dataclass(frozen=True, slots=True)
class SaleLine:
    sku: str
    qty: int
    amount: float


@dataclass(frozen=True, slots=True)
class Sale:
    """A completed sale at a till (docs/interface.md), de-duplicated by `sale_id`."""

    device_id: str
    sale_id: str
    ts: float
    lines: tuple[SaleLine, ...]
    customer_ref: str | None = None
    offer_ids: tuple[str, ...] = ()

    @property
    def amount(self) -> float:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """A customer gives or withdraws consent (signed app token or the CLI)."""

    customer_id: str
    consent: bool
    ts: float
    nonce: str = ""
    exp: float = 0.0


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A beacon entered or left a zone."""

    beacon: BeaconId
    state: Literal["present", "moved", "away"]
    zone: str | None
    ts: float
    rssi: float | None = None
    decided_at: float | None = None
    dwell_s: float | None = None  # time spent in the zone being left (moved, away)
    previous_zone: str | None = None
    visit_s: float | None = None  # whole visit (away)


@dataclass(frozen=True, slots=True)
class Customer:
    """A known customer (only consenting ones are ever recognised)."""

    customer_id: str
    display_name: str
    tier: str
    consent: bool
    preferred_categories: tuple[str, ...] = ()
    visits_90d: int = 0
    spend_90d: float = 0.0
    rotating_key: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer from the store's catalog."""

    offer_id: str
    title: str
    category: str
    kind: str
    min_tier: str = "bronze"
    in_stock: bool = True
    skus: tuple[str, ...] = ()
    value: str = ""
    starts: str | None = None
    ends: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredOffer:
    """An offer with its score and a human-readable reason."""

    offer_id: str
    title: str
    score: float
    reason: str


def offer_json(offer: ScoredOffer) -> dict[str, Any]:
    return {"offer_id": offer.offer_id, "title": offer.title, "score": round(offer.score, 4), "reason": offer.reason}


class Product(NamedTuple):
    """A SKU as the catalog knows it (either may be empty)."""

    title: str
    category: str


@dataclass(frozen=True, slots=True)
class Hint:
    """A line for staff on an alert, worded for a person (first visit, regular, lapsed, owns)."""

    kind: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True, slots=True)
class SizeAsked:
    """What a size request asks for, and from which mirror session (docs/interface.md § Size request)."""

    sku: str | None
    title: str | None
    size: str | None
    device_id: str | None
    session_id: str | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "sku": self.sku,
            "title": self.title,
            "size": self.size,
            "device_id": self.device_id,
            "session_id": self.session_id,
        }

    @classmethod
    def from_json(cls, card: Mapping[str, Any]) -> SizeAsked:
        return cls(card.get("sku"), card.get("title"), card.get("size"), card.get("device_id"), card.get("session_id"))


class AlertKind(StrEnum):
    """What reaches staff (docs/interface.md § Alert, § Size request, § Offers updated)."""

    ENTRY = "entry"
    SIZE_REQUEST = "size_request"
    OFFERS_UPDATED = "offers_updated"


@dataclass(frozen=True, slots=True)
class Alert:
    """A staff alert about a known customer's entry."""

    alert_id: str
    ts: float
    customer_id: str
    display_name: str
    tier: str
    zone: str
    offers: tuple[ScoredOffer, ...]
    visits_90d: int | None = None  # for the tablet's customer card; not part of the MQTT payload
    hints: tuple[Hint, ...] = ()
    kind: AlertKind = AlertKind.ENTRY
    asked: SizeAsked | None = None  # what a size request asks for

    def card(self) -> dict[str, Any]:
        """The tablet's customer card: the MQTT payload plus what only staff see."""
        return {**self.to_json(), "visits_90d": self.visits_90d}

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> Alert:
        """Back from a stored card (republishing after a restart)."""
        return cls(
            alert_id=card["alert_id"],
            ts=datetime.fromisoformat(card["ts"]).timestamp(),
            customer_id=card["customer_id"],
            display_name=card["display_name"],
            tier=card["tier"],
            zone=card["zone"],
            offers=tuple(ScoredOffer(o["offer_id"], o["title"], o["score"], o["reason"]) for o in card["offers"]),
            visits_90d=card.get("visits_90d"),
            hints=tuple(Hint(str(h["kind"]), str(h["text"])) for h in card.get("hints", ())),
            kind=(kind := AlertKind(card.get("kind", AlertKind.ENTRY))),
            asked=SizeAsked.from_json(card) if kind == AlertKind.SIZE_REQUEST else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "ts": datetime.fromtimestamp(self.ts, UTC).isoformat(),
            "customer_id": self.customer_id,
            "display_name": self.display_name,
            "tier": self.tier,
            "zone": self.zone,
            "offers": [offer_json(o) for o in self.offers],
            "hints": [h.to_json() for h in self.hints],
            **({"kind": str(self.kind)} if self.kind != AlertKind.ENTRY else {}),
            **(self.asked.to_json() if self.asked is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class OffersUpdated:
    """A card's offers re-ranked in the moment (docs/interface.md): `{"kind": "offers_updated", ...}` on MQTT."""

    alert_id: str
    offers: tuple[ScoredOffer, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(AlertKind.OFFERS_UPDATED),
            "alert_id": self.alert_id,
            "offers": [offer_json(o) for o in self.offers],
        }


@dataclass(frozen=True, slots=True)
class FriendVote:
    """A friend's vote on one SKU of a shared look: from the phone page (a companion in the store),
    from the mirror's guest buttons, or through the chain's relay (verified by its `mac`)."""

    look_id: str
    vote_id: str  # de-duplicates a redelivered vote
    seat: str
    sku: str
    value: str
    ts: float
    channel: str  # companion | mirror | remote
    mac: str = ""  # remote votes: hex HMAC-SHA256 under the look's key


@dataclass(frozen=True, slots=True)
class SeatTaken:
    """A browser took a free seat of a look (its cookie names it from now on)."""

    look_id: str
    seat: str
    ts: float


@dataclass(frozen=True, slots=True)
class FriendRemembered:
    """A friend ticked "remember me": their seat is bound to the keyed hash of a key their browser keeps."""

    look_id: str
    seat: str
    friend: str  # keyed hash of the browser's key; the key itself never reaches the store
    ts: float


@dataclass(frozen=True, slots=True)
class FriendForgotten:
    """A friend's "forget me": every record of their key's hash goes, for every shopper."""

    friend: str
    ts: float


Event = (
    Advertisement | SensorReading | MirrorEvent | DeadLetter | CheckIn | AlertAction | Sale | ConsentChange
    | FriendVote | SeatTaken | FriendRemembered | FriendForgotten
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Acked:
    """An event whose sender waits for an acknowledgement once all its effects are committed.

    `ack(fresh)` runs after the commit; `fresh` is False when the input was a redelivery (or a
    replayed nonce) and so changed nothing.
    """

    event: Event
    ack: Callable[[bool], None]


SourceEvent = Event | Acked


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    profile: str
    transport: str
    zone: str | None = None
    port: str | None = None
    topic: str | None = None
    identifier: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    auto_registered: bool = False
    created_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = dict(self.settings)
        return data
