"""Looks: who may vote on what, until when (SPEC §16) — every refusal, in a table."""

from __future__ import annotations

import pytest

from edge_agent.core.cards import Friends
from edge_agent.social.looks import MIRROR_SEAT, Board, Channel, Circle, Look, Refusal, summary
from edge_agent.social.trust import UNKNOWN_WEIGHT, Trust

NOW = 1_800_000_000.0


def board(max_seats: int = 2) -> Board:
    return Board(max_seats=max_seats, ttl_after_session_s=1800, max_ttl_s=7200)


def opened(b: Board, customer: str | None = "c-ada") -> Look:
    return b.open("mirror-1", "s1", customer, Circle.BOTH, "Ada", ["COAT-1", "SCARF-1"], NOW)


def test_a_look_has_an_unguessable_token_a_key_and_expires_at_the_max_ttl() -> None:
    b = board()
    look = opened(b)
    assert len(look.token) >= 22 and len(look.key) == 64 and look.look_id != look.token
    assert b.by_token(look.token) is look and b.get(look.look_id) is look
    assert look.expires_at == NOW + 7200 and look.live(NOW + 7199) and not look.live(NOW + 7200)
    assert opened(b).token != look.token


def test_the_session_end_cuts_the_expiry_to_ttl_after_session() -> None:
    b = board()
    look = opened(b)
    b.session_ended(look, NOW + 60)
    assert look.expires_at == NOW + 60 + 1800
    b.session_ended(look, NOW + 7000)  # never later than it was
    assert look.expires_at == NOW + 60 + 1800


@pytest.mark.parametrize(
    ("seat", "sku", "value", "at", "refusal"),
    [
        ("a", "COAT-1", "up", NOW, None),
        ("a", "COAT-1", "sideways", NOW, Refusal.BAD_VALUE),
        ("a", "SHOE-9", "up", NOW, Refusal.NOT_IN_LOOK),
        (None, "COAT-1", "up", NOW, Refusal.SEATS_FULL),
        ("c", "COAT-1", "up", NOW, Refusal.SEATS_FULL),  # two seats taken already
        ("b", "COAT-1", "up", NOW + 0.5, Refusal.TOO_FAST),
        ("b", "COAT-1", "up", NOW + 1.0, None),
        (MIRROR_SEAT, "COAT-1", "down", NOW, None),  # the mirror's buttons never take a seat
        ("a", "COAT-1", "up", NOW + 7200, Refusal.GONE),
    ],
)
def test_who_may_vote(seat: str | None, sku: str, value: str, at: float, refusal: Refusal | None) -> None:
    look = opened(board())
    look.record("a", Channel.COMPANION, "SCARF-1", "up", NOW - 5)
    look.record("b", Channel.COMPANION, "SCARF-1", "up", NOW)
    assert look.refusal(seat, sku, value, at) == refusal


def test_refusals_map_to_their_http_status() -> None:
    assert {r: r.status for r in Refusal} == {
        Refusal.GONE: 410, Refusal.SEATS_FULL: 403, Refusal.TOO_FAST: 429, Refusal.NOT_IN_LOOK: 400,
        Refusal.BAD_VALUE: 400,
    }  # fmt: skip


def test_a_stopped_look_is_gone_at_once() -> None:
    look = opened(board())
    look.stopped_at = NOW + 1
    assert look.refusal("a", "COAT-1", "up", NOW + 2) is Refusal.GONE


def test_a_seats_last_vote_per_sku_counts_and_the_tally_counts_each_answer() -> None:
    look = opened(board())
    look.record("a", Channel.COMPANION, "COAT-1", "down", NOW)
    look.record("a", Channel.COMPANION, "COAT-1", "up", NOW + 2)
    look.record(MIRROR_SEAT, Channel.MIRROR, "COAT-1", "other_size", NOW + 3)
    assert look.tally()["COAT-1"] == {"up": 1, "down": 0, "other_size": 1, "other_colour": 0}
    assert look.tally()["SCARF-1"] == {"up": 0, "down": 0, "other_size": 0, "other_colour": 0}


def test_unknown_seats_weigh_w0_and_remembered_friends_what_they_earned() -> None:
    look = opened(board())
    look.record("a", Channel.COMPANION, "COAT-1", "up", NOW)
    look.record("b", Channel.COMPANION, "COAT-1", "down", NOW)
    assert look.weight("a") == pytest.approx(UNKNOWN_WEIGHT) and look.advice()["COAT-1"] == 0.0
    look.seats["a"].friend = "hash-a"
    look.trust["hash-a"] = Trust(20, 2)
    assert look.weight("a") == 2.0 and look.advice()["COAT-1"] > 0.3


def test_an_anonymous_shoppers_friends_are_never_weighed_as_remembered() -> None:
    look = opened(board(), customer=None)
    look.record("a", Channel.COMPANION, "COAT-1", "up", NOW)
    look.seats["a"].friend = "hash-a"
    look.trust["hash-a"] = Trust(20, 2)
    assert look.weight("a") == pytest.approx(UNKNOWN_WEIGHT)


def test_the_staff_card_summary_counts_votes_and_names_nobody() -> None:
    look = opened(board())
    look.record("a", Channel.COMPANION, "COAT-1", "up", NOW)
    look.record("b", Channel.COMPANION, "COAT-1", "up", NOW)
    look.record(MIRROR_SEAT, Channel.MIRROR, "SCARF-1", "down", NOW)
    assert summary([look]) == Friends(up=2, down=1, advice=round(look.advice()["COAT-1"], 2))


def test_a_look_shows_at_most_24_skus_and_each_once() -> None:
    look = opened(board())
    assert not look.add_sku("COAT-1")
    for n in range(40):
        look.add_sku(f"S-{n}")
    assert len(look.skus) == 24


def test_the_board_holds_a_bounded_number_of_looks() -> None:
    from edge_agent.social import looks as module

    b = board()
    first = opened(b)
    for _ in range(module.MAX_LOOKS):
        opened(b)
    assert len(b) == module.MAX_LOOKS and b.by_token(first.token) is None


def test_looks_are_found_by_their_mirror_session_and_leave_that_index_with_the_board() -> None:
    b = board()
    first, second = opened(b), b.open("mirror-2", "s1", None, Circle.REMOTE, "", [], NOW)
    assert b.of_session("mirror-1", "s1") == [first] and b.of_session("mirror-2", "s1") == [second]
    b.drop(first)
    assert b.of_session("mirror-1", "s1") == [] and b.of_session("nobody", "x") == []
