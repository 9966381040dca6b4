"""The learning arithmetic: forgetting, blending with the import, and the uplift interval."""

from __future__ import annotations

import pytest

from edge_agent.learning.profile import AFFINITY_CAP, SIGNALS, blend, forget, learn, relative
from edge_agent.learning.uplift import newcombe, wilson


def test_years_of_one_category_cannot_outvote_a_clear_switch() -> None:
    """A long-held favourite is a strong belief, not a big tally: two visits for shoes overturn it."""
    week, half_life = 7 * 86400.0, 30 * 86400.0
    taste: dict[str, float] = {}
    for _week in range(100):  # two years of coats, a visit a week: a try-on and a like
        taste = learn(taste, "outerwear", SIGNALS["try_on"] + SIGNALS["like"], week, half_life)
    assert taste == {"outerwear": AFFINITY_CAP}
    for _ in range(2):  # then two weekly visits that try on and like shoes, and nothing else
        taste = learn(taste, "shoes", 2 * (SIGNALS["try_on"] + SIGNALS["like"]), week, half_life)
    assert taste["shoes"] > taste["outerwear"]
    assert learn({}, "bags", -50.0, 0, half_life) == {"bags": -AFFINITY_CAP}


def test_thin_evidence_fades_about_as_a_half_life_says() -> None:
    month = 30 * 86400.0
    one_like = forget({"bags": 2.0}, month, month)["bags"]
    assert 0.9 < one_like < 1.3  # a plain half-life would say 1.0
    assert forget({"bags": 2.0}, 10 * month, month)["bags"] == pytest.approx(0.0, abs=0.01)
    assert -1.0 < forget({"shoes": -2.0}, month, month)["shoes"] < -0.6
    assert forget({"bags": 2.0}, -5, month) == {"bags": 2.0}  # a clock step backwards changes nothing


def test_the_model_sees_each_category_against_the_customers_strongest() -> None:
    learned = (("bags", 5.0), ("outerwear", 10.0), ("shoes", -10.0))
    assert relative(learned, "outerwear") == 1.0 and relative(learned, "bags") == 0.5
    assert relative(learned, "shoes") == -1.0 and relative(learned, "kids") == 0.0
    assert relative((("bags", 1.0),), "bags") == pytest.approx(1 / 3)  # thin evidence stays small


def test_behaviour_overrides_a_stale_import() -> None:
    taste = blend(["shoes"], {"outerwear": 9.0, "shoes": -6.0})
    assert taste.preferred == ("outerwear",) and taste.disliked == frozenset({"shoes"})
    assert blend(["shoes"], {"outerwear": 0.5}).preferred == ("shoes",)  # too little evidence yet
    assert blend(["shoes", "bags"], {"outerwear": 3.0}).preferred == ("outerwear",)  # a clear favourite leads alone
    assert blend(["shoes"], {"outerwear": 9.0, "bags": 8.0, "kids": 2.0}).preferred == ("outerwear", "bags")


def test_newcombe_matches_the_published_example() -> None:
    """Newcombe (1998), example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339."""
    result = newcombe(56, 70, 48, 80, minimum=1)
    assert result.uplift == pytest.approx(0.2)
    assert (round(result.ci95_low or 0, 4), round(result.ci95_high or 0, 4)) == (0.0524, 0.3339)


def test_small_groups_say_not_enough_data() -> None:
    result = newcombe(3, 5, 1, 4)
    assert not result.enough_data and result.uplift is None and result.treatment_rate == 0.6


def test_wilson_stays_inside_zero_and_one() -> None:
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert all(0.0 <= bound <= 1.0 for n in range(1, 30) for x in range(n + 1) for bound in wilson(x, n))
