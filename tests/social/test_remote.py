"""Friends elsewhere: look cards hold nothing about the person; votes are signed, verified, decoded."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.core.errors import DecodeError
from edge_agent.social.looks import Board, Circle
from edge_agent.social.remote import CARD_FIELDS, ITEM_FIELDS, Item, decode_vote, look_card, signed_vote, verified

NOW = 1_800_000_000.0


def test_the_mac_is_hmac_sha256_of_the_pipe_joined_fields_under_the_looks_key() -> None:
    key = "00" * 31 + "01"
    vote = signed_vote("L1", key, "v1", "seat-9", "COAT-1", "up", 1_800_000_123.5)
    message = b"L1|v1|seat-9|COAT-1|up|1800000123.5"
    assert vote["mac"] == hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()
    whole = signed_vote("L1", key, "v1", "seat-9", "COAT-1", "up", 1_800_000_123)
    assert (
        whole["mac"] == hmac.new(bytes.fromhex(key), b"L1|v1|seat-9|COAT-1|up|1800000123", hashlib.sha256).hexdigest()
    )


def test_a_relayed_vote_verifies_and_a_tampered_one_does_not() -> None:
    key = "ab" * 32
    body = signed_vote("L1", key, "v1", "s", "COAT-1", "up", NOW)
    vote = decode_vote("L1", json.dumps(body).encode())
    assert verified(vote, key) and vote.channel == "remote"
    tampered = decode_vote("L1", json.dumps({**body, "value": "down"}).encode())
    assert not verified(tampered, key)
    assert not verified(vote, "cd" * 32)
    assert not verified(decode_vote("L2", json.dumps(body).encode()), key)  # replayed onto another look


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"vote_id": "v", "seat": "s", "sku": "C", "value": "up", "ts": NOW}, "missing_field"),
        ({"vote_id": "v", "seat": "s", "sku": "C", "value": "meh", "ts": NOW, "mac": "00"}, "bad_value"),
        ({"vote_id": "v", "seat": "s", "sku": "C", "value": "up", "ts": NOW, "mac": "00", "name": "Bo"},
         "unknown_field"),
        ({"vote_id": "v", "seat": "s", "sku": "C", "value": "up", "ts": "x", "mac": "00"}, "wrong_type"),
    ],
)  # fmt: skip
def test_an_off_spec_vote_is_refused_with_its_reason(body: dict[str, object], reason: str) -> None:
    with pytest.raises(DecodeError) as refused:
        decode_vote("L1", json.dumps(body).encode())
    assert refused.value.reason == reason


@given(st.binary(max_size=512))
def test_any_bytes_decode_or_are_refused_never_crash(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_vote("L1", payload)


def test_a_look_card_holds_only_the_allowed_fields_and_nothing_about_the_person() -> None:
    look = Board(max_seats=8, ttl_after_session_s=1800, max_ttl_s=7200).open(
        "mirror-1", "s1", "c-ada", Circle.REMOTE, "Ada", ["COAT-1"], NOW
    )
    card = look_card(look, "store-1", {"COAT-1": Item("COAT-1", "Wool coat")}).to_json()
    assert set(card) == CARD_FIELDS and all(set(item) == ITEM_FIELDS for item in card["skus"])
    text = json.dumps(card)
    for secret in ("c-ada", look.token, "mirror-1", "s1"):
        assert secret not in text
