"""Shared looks: who may vote on what, until when, and what the votes add up to (SPEC §16).

A look is created by the shopper's explicit `share_start` tap and lives until `share_stop`, the
session's end + `social.ttl_after_session_s`, or `social.max_ttl_s` after it opened, whichever
comes first. Everything here is a decision on in-memory state; the store keeps what it decided.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ..core.cards import Friends
from .trust import UNKNOWN_WEIGHT, Trust, advice

VALUES = ("up", "down", "other_size", "other_colour")
MIRROR_SEAT = "mirror"  # the mirror's own guest buttons: a seat that is always there
VOTE_GAP_S = 1.0  # at most one vote per second per seat
MAX_LOOKS = 2000  # looks held in memory; a mirror stuck sharing cannot grow this without bound
MAX_SKUS = 24
GONE_S = 86400.0  # an expired or stopped look's link answers 410 this long, then 404


class Circle(StrEnum):
    COMPANIONS = "companions"
    REMOTE = "remote"
    BOTH = "both"

    @property
    def companions(self) -> bool:
        return self is not Circle.REMOTE

    @property
    def remote(self) -> bool:
        return self is not Circle.COMPANIONS


class Channel(StrEnum):
    COMPANION = "companion"  # the phone page on the box
    MIRROR = "mirror"  # the mirror's guest buttons
    REMOTE = "remote"  # through the chain's relay


class Refusal(StrEnum):
    """Why a vote or a seat was refused, with the HTTP status the page gets."""

    GONE = "gone"  # expired or stopped: 410
    SEATS_FULL = "seats_full"  # 403
    TOO_FAST = "too_fast"  # 429
    NOT_IN_LOOK = "not_in_look"  # a SKU the look does not show: 400
    BAD_VALUE = "bad_value"  # 400

    @property
    def status(self) -> int:
        return {"gone": 410, "seats_full": 403, "too_fast": 429}.get(self.value, 400)


@dataclass(slots=True)
class Seat:
    channel: Channel
    friend: str | None = None  # keyed hash of a remembered friend's browser key


@dataclass(slots=True)
class Look:
    look_id: str
    token: str  # the companions' link (≥ 128 bits)
    key: str  # hex key remote votes are signed with
    device_id: str
    session_id: str
    customer_id: str | None  # only for a consenting customer: remembered friends learn for them
    circle: Circle
    nickname: str
    created_at: float
    expires_at: float
    max_seats: int
    skus: list[str] = field(default_factory=list)
    stopped_at: float | None = None
    ended_at: float | None = None
    settled: bool = False  # what its votes taught is committed; the look still answers 410 for a while
    seats: dict[str, Seat] = field(default_factory=dict)
    votes: dict[tuple[str, str], str] = field(default_factory=dict)  # (seat, sku) → the seat's last vote
    last_vote_at: dict[str, float] = field(default_factory=dict)
    trust: dict[str, Trust] = field(default_factory=dict)  # remembered friends of this shopper

    def live(self, now: float) -> bool:
        return self.stopped_at is None and now < self.expires_at

    @property
    def taken(self) -> int:
        return sum(1 for s in self.seats if s != MIRROR_SEAT)

    def may_seat(self) -> bool:
        return self.taken < self.max_seats

    def add_sku(self, sku: str) -> bool:
        if sku in self.skus or len(self.skus) >= MAX_SKUS:
            return False
        self.skus.append(sku)
        return True

    def refusal(self, seat: str | None, sku: str, value: str, now: float) -> Refusal | None:
        """Whether this seat may cast this vote now (None: it may)."""
        if not self.live(now):
            return Refusal.GONE
        if value not in VALUES:
            return Refusal.BAD_VALUE
        if sku not in self.skus:
            return Refusal.NOT_IN_LOOK
        if seat is None or (seat not in self.seats and seat != MIRROR_SEAT and not self.may_seat()):
            return Refusal.SEATS_FULL
        if now - self.last_vote_at.get(seat, -VOTE_GAP_S) < VOTE_GAP_S:
            return Refusal.TOO_FAST
        return None

    def record(self, seat: str, channel: Channel, sku: str, value: str, ts: float) -> None:
        self.seats.setdefault(seat, Seat(channel))
        self.votes[(seat, sku)] = value
        self.last_vote_at[seat] = max(ts, self.last_vote_at.get(seat, ts))

    def weight(self, seat: str) -> float:
        """An unknown seat's weight is w₀; a remembered friend's is what they earned with this shopper."""
        friend = self.seats[seat].friend if seat in self.seats else None
        if friend is None or self.customer_id is None:
            return UNKNOWN_WEIGHT
        return self.trust.get(friend, Trust()).weight

    def tally(self) -> dict[str, dict[str, int]]:
        counts = {sku: dict.fromkeys(VALUES, 0) for sku in self.skus}
        for (_, sku), value in self.votes.items():
            if sku in counts:
                counts[sku][value] += 1
        return counts

    def advice(self) -> dict[str, float]:
        """A per SKU (SPEC §16), rounded for display and payloads."""
        per_sku: dict[str, list[tuple[float, str]]] = {sku: [] for sku in self.skus}
        for (seat, sku), value in self.votes.items():
            if sku in per_sku:
                per_sku[sku].append((self.weight(seat), value))
        return {sku: round(advice(votes), 3) for sku, votes in per_sku.items()}

    def voted(self, seat: str) -> bool:
        return any(s == seat for s, _ in self.votes)


@dataclass(frozen=True, slots=True)
class LookState:
    """What a look's mirror shows, as it stands when said: `{topic_prefix}/mirror/{device_id}/social`."""

    look_id: str
    session_id: str
    companions_url: str | None
    remote_url: str | None
    remote_available: bool
    expires_at: float
    state: str  # open, stopped or expired
    tally: dict[str, dict[str, int]]
    advice: dict[str, float]

    @classmethod
    def of(cls, look: Look, *, companions_url: str | None, remote_url: str | None, remote_available: bool,
           state: str) -> LookState:  # fmt: skip
        return cls(look.look_id, look.session_id, companions_url, remote_url, remote_available, look.expires_at,
                   state, look.tally(), look.advice())  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "look_id": self.look_id,
            "session_id": self.session_id,
            "urls": {"companions": self.companions_url, "remote": self.remote_url},
            "remote_available": self.remote_available,
            "expires_at": datetime.fromtimestamp(self.expires_at, UTC).isoformat(),
            "state": self.state,
            "tally": self.tally,
            "advice": self.advice,
        }


def summary(looks: Iterable[Look]) -> Friends:
    """What the staff card shows: votes up and down and the weighted advice — never who voted."""
    up = down = 0
    advised: list[float] = []
    for look in looks:
        for value in look.votes.values():
            up += value == "up"
            down += value == "down"
        advised += [a for a in look.advice().values() if a]
    strongest: float = max(advised, key=abs) if advised else 0.0
    return Friends(up, down, round(strongest, 2))


class Board:
    """The looks in play, by id, by token and by mirror session."""

    def __init__(self, *, max_seats: int, ttl_after_session_s: float, max_ttl_s: float) -> None:
        self._max_seats = max_seats
        self._ttl_after_session_s = ttl_after_session_s
        self._max_ttl_s = max_ttl_s
        self._looks: OrderedDict[str, Look] = OrderedDict()
        self._tokens: dict[str, str] = {}
        self._sessions: dict[tuple[str, str], list[str]] = {}  # every mirror event asks: no scan of all looks

    def __len__(self) -> int:
        return len(self._looks)

    def open(
        self,
        device_id: str,
        session_id: str,
        customer_id: str | None,
        circle: Circle,
        nickname: str,
        skus: Iterable[str],
        now: float,
    ) -> Look:
        look = Look(
            look_id=secrets.token_hex(16),
            token=secrets.token_urlsafe(24),  # 192 bits
            key=secrets.token_hex(32),
            device_id=device_id,
            session_id=session_id,
            customer_id=customer_id,
            circle=circle,
            nickname=nickname,
            created_at=now,
            expires_at=now + self._max_ttl_s,
            max_seats=self._max_seats,
        )
        for sku in skus:
            look.add_sku(sku)
        self.add(look)
        return look

    def add(self, look: Look) -> None:
        self._looks[look.look_id] = look
        self._tokens[look.token] = look.look_id
        session = self._sessions.setdefault((look.device_id, look.session_id), [])
        if look.look_id not in session:
            session.append(look.look_id)
        while len(self._looks) > MAX_LOOKS:
            self.drop(next(iter(self._looks.values())))

    def drop(self, look: Look) -> None:
        self._looks.pop(look.look_id, None)
        self._tokens.pop(look.token, None)
        key = (look.device_id, look.session_id)
        session = [i for i in self._sessions.get(key, ()) if i != look.look_id]
        if session:
            self._sessions[key] = session
        else:
            self._sessions.pop(key, None)

    def get(self, look_id: str) -> Look | None:
        return self._looks.get(look_id)

    def by_token(self, token: str) -> Look | None:
        look_id = self._tokens.get(token)
        return self._looks.get(look_id) if look_id is not None else None

    def of_session(self, device_id: str, session_id: str) -> list[Look]:
        ids = self._sessions.get((device_id, session_id))
        return [self._looks[i] for i in ids if i in self._looks] if ids else []

    def of_customer(self, customer_id: str, now: float) -> list[Look]:
        return [lk for lk in self._looks.values() if lk.customer_id == customer_id and lk.live(now)]

    def session_ended(self, look: Look, now: float) -> None:
        """The session is over: the look lives on for `ttl_after_session_s` at most."""
        look.ended_at = now
        look.expires_at = min(look.expires_at, now + self._ttl_after_session_s)

    def all(self) -> list[Look]:
        return list(self._looks.values())

    def find(self, predicate: Callable[[Look], bool]) -> list[Look]:
        return [lk for lk in self._looks.values() if predicate(lk)]
