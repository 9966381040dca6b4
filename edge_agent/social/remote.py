"""Friends elsewhere: the look card that goes up to the chain's relay and the signed votes that
come back (SPEC §16). Shared by the box and the reference relay (`edge-agent relay`)."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import DecodeError
from ..core.events import FriendVote
from ..decoders.jsonsafe import get_number, get_str, loads_object
from .looks import VALUES, Look

# What a look card may hold, and nothing else: the allow-list test checks every card against it.
CARD_FIELDS = frozenset({"look_id", "store_id", "skus", "question", "nickname", "expires_at", "seats", "key"})
ITEM_FIELDS = frozenset({"sku", "title", "image_url"})
VOTE_FIELDS = frozenset({"vote_id", "seat", "sku", "value", "ts", "mac"})
QUESTION = "Does this suit me?"


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    title: str
    image_url: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"sku": self.sku, "title": self.title, "image_url": self.image_url}


@dataclass(frozen=True, slots=True)
class LookCard:
    """The card the relay shows: catalog items, the question and the nickname — never who shares
    (`CARD_FIELDS` and `ITEM_FIELDS` are all it may hold)."""

    look_id: str
    store_id: str
    items: tuple[Item, ...]
    nickname: str
    expires_at: float
    seats: int
    key: str
    question: str = QUESTION

    def to_json(self) -> dict[str, Any]:
        return {
            "look_id": self.look_id,
            "store_id": self.store_id,
            "skus": [item.to_json() for item in self.items],
            "question": self.question,
            "nickname": self.nickname,
            "expires_at": self.expires_at,
            "seats": self.seats,
            "key": self.key,
        }


def look_card(look: Look, store_id: str, items: Mapping[str, Item]) -> LookCard:
    """A look's card, its SKUs titled from the catalog (a SKU it does not know shows as itself)."""
    shown = tuple(items.get(sku) or Item(sku, sku) for sku in look.skus)
    return LookCard(look.look_id, store_id, shown, look.nickname, look.expires_at, look.max_seats, look.key)


def vote_mac(key_hex: str, look_id: str, vote_id: str, seat: str, sku: str, value: str, ts: float) -> str:
    """HMAC-SHA256 of `look_id|vote_id|seat|sku|value|ts` under the look's key (ts as JSON writes it)."""
    message = f"{look_id}|{vote_id}|{seat}|{sku}|{value}|{_ts_text(ts)}".encode()
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).hexdigest()


def _ts_text(ts: float) -> str:
    return str(int(ts)) if float(ts).is_integer() else repr(float(ts))


def verified(vote: FriendVote, key_hex: str) -> bool:
    expected = vote_mac(key_hex, vote.look_id, vote.vote_id, vote.seat, vote.sku, vote.value, vote.ts)
    return hmac.compare_digest(expected, vote.mac.lower())


def decode_vote(look_id: str, payload: bytes) -> FriendVote:
    """A relayed vote from `{votes_topic}/{look_id}`; DecodeError on anything off-spec."""
    data = loads_object(payload)
    unknown = data.keys() - VOTE_FIELDS
    if unknown:
        raise DecodeError("unknown_field", sorted(unknown)[0][:64])
    vote_id = get_str(data, "vote_id", max_len=64)
    seat = get_str(data, "seat", max_len=64)
    sku = get_str(data, "sku", max_len=64)
    value = get_str(data, "value", max_len=16)
    mac = get_str(data, "mac", max_len=64)
    ts = get_number(data, "ts", lo=0, hi=1e11)
    if value not in VALUES:
        raise DecodeError("bad_value", "value must be up, down, other_size or other_colour")
    if not look_id or len(look_id) > 64:
        raise DecodeError("bad_value", "look id in the topic")
    assert vote_id and seat and sku and value and mac and ts is not None and math.isfinite(ts)
    return FriendVote(look_id, vote_id, seat, sku, value, ts, "remote", mac)


def signed_vote(look_id: str, key_hex: str, vote_id: str, seat: str, sku: str, value: str, ts: float) -> dict[str, Any]:
    """What the relay publishes for one vote."""
    mac = vote_mac(key_hex, look_id, vote_id, seat, sku, value, ts)
    return {"vote_id": vote_id, "seat": seat, "sku": sku, "value": value, "ts": ts, "mac": mac}
