"""The learning arithmetic: decay, blending with the import, and the uplift interval."""

from __future__ import annotations

import pytest

from edge_agent.learning.profile import blend, decayed
from edge_agent.learning.uplift import newcombe, wilson


def test_an_affinity_halves_every_half_life() -> None:
    assert decayed(8.0, 30 * 86400, 30 * 86400) == pytest.approx(4.0)
    assert decayed(8.0, 90 * 86400, 30 * 86400) == pytest.approx(1.0)
    assert decayed(8.0, -5, 30) == 8.0  # a clock step backwards never grows a score


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
