"""Trust is earned: the Beta-reliability weights of SPEC §16."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.social.trust import MAX_WEIGHT, UNKNOWN_WEIGHT, Trust, advice, agrees


def test_an_unknown_seat_weighs_w0_and_a_new_friend_starts_from_the_prior() -> None:
    assert pytest.approx(math.log(0.6 / 0.4)) == UNKNOWN_WEIGHT
    assert Trust().reliability == pytest.approx(0.6)
    assert Trust().weight == pytest.approx(UNKNOWN_WEIGHT)


def test_agreement_adds_to_alpha_disagreement_to_beta_after_older_evidence_decays() -> None:
    first = Trust().settled([True, True, False])
    assert (first.alpha, first.beta, first.visits) == (5.0, 3.0, 1)
    second = first.settled([True])
    assert second.alpha == pytest.approx(3 + 0.9 * 2 + 1) and second.beta == pytest.approx(2 + 0.9 * 1)


def test_a_visit_without_outcomes_changes_nothing() -> None:
    assert Trust(7, 2, 4).settled([]) == Trust(7, 2, 4)


def test_a_friend_who_is_usually_wrong_weighs_nothing_never_negatively() -> None:
    wrong = Trust()
    for _ in range(30):
        wrong = wrong.settled([False, False, True])
    assert wrong.reliability < 0.5 and wrong.weight == 0.0


def test_weight_is_clipped_at_two() -> None:
    assert Trust(1000, 1).weight == MAX_WEIGHT


@given(st.lists(st.lists(st.booleans(), max_size=6), max_size=40))
def test_weights_stay_within_zero_and_two_whatever_happens(visits: list[list[bool]]) -> None:
    trust = Trust()
    for outcomes in visits:
        trust = trust.settled(outcomes)
        assert 0.0 <= trust.weight <= MAX_WEIGHT and trust.alpha >= 3 and trust.beta >= 2


def test_advice_is_the_weighted_vote_shrunk_by_the_shoppers_own_silent_opinion() -> None:
    assert advice([]) == 0.0
    assert advice([(1.0, "up")]) == pytest.approx(0.5)
    assert advice([(1.0, "up"), (1.0, "down")]) == 0.0
    assert advice([(2.0, "up"), (1.0, "down")]) == pytest.approx(1 / 4)
    assert advice([(1.0, "other_size"), (0.0, "down")]) == 0.0  # neither way; a zero weight is not heard


@given(st.lists(st.tuples(st.floats(0, 2), st.sampled_from(["up", "down", "other_size", "other_colour"]))))
def test_advice_stays_between_minus_one_and_one(votes: list[tuple[float, str]]) -> None:
    assert -1.0 < advice(votes) < 1.0 or advice(votes) == 0.0


def test_a_vote_agrees_with_the_outcome_it_predicted() -> None:
    assert agrees("up", 1) is True and agrees("down", -1) is True
    assert agrees("up", -1) is False and agrees("down", 1) is False
    assert agrees("other_size", 1) is None
