"""Pooling the alerts' effect across stores: a published worked example, and the sequence's promise."""

from __future__ import annotations

import math
import random

import pytest

from edge_agent.fleet.uplift import Stratum, confidence_sequence_z, in_words, mantel_haenszel, odds_tests, pool

# Colditz et al. (1994), the BCG vaccine trials, as metafor ships them (dat.bcg: tpos, tneg, cpos, cneg).
# metafor's tests (wviechtb/metafor, tests/testthat/test_misc_rma_mh.r, "results match (EE model,
# measure='RD')") check rma.mh against Stata's `metan … fixed rd`: MH risk difference -0.0033, Cochran's
# Q 386.7759, z -11.56 in Stata, whose standard error is Greenland & Robins's (1985).
BCG = [
    (4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619), (33, 5036, 47, 5761),
    (180, 1361, 372, 1079), (8, 2537, 10, 619), (505, 87886, 499, 87892), (29, 7470, 45, 7232),
    (17, 1699, 65, 1600), (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825),
]  # fmt: skip
TRIALS = [Stratum(f"trial-{i}", a + b, a, c + d, c) for i, (a, b, c, d) in enumerate(BCG, 1)]


def test_the_mh_risk_difference_reproduces_the_published_bcg_example() -> None:
    rd, var = mantel_haenszel(TRIALS)
    assert round(rd, 4) == -0.0033
    assert round(rd / math.sqrt(var), 2) == -11.56  # Stata's z: Greenland-Robins's variance
    pooled = pool(TRIALS)
    assert pooled.heterogeneity_p is not None and pooled.heterogeneity_p < 1e-6  # Q = 386.78 on 12 df
    lo, hi = pooled.ci95
    assert round(lo, 4) == -0.0038 and round(hi, 4) == -0.0027


def test_one_store_pools_to_its_own_difference_and_wald_variance() -> None:
    store = Stratum("s", 1000, 130, 100, 9)
    assert mantel_haenszel([store]) == pytest.approx(store.risk_difference())


def test_a_store_with_one_arm_only_is_left_out_and_none_at_all_is_an_error() -> None:
    assert mantel_haenszel([*TRIALS, Stratum("no-holdout", 500, 50, 0, 0)]) == mantel_haenszel(TRIALS)
    with pytest.raises(ValueError, match="both arms"):
        mantel_haenszel([Stratum("no-holdout", 500, 50, 0, 0)])


def test_the_sequence_is_wider_than_the_interval_and_narrows_as_visits_grow() -> None:
    zs = [confidence_sequence_z(n) for n in (100, 1_000, 10_000, 100_000, 1_000_000)]
    assert all(z > 1.96 for z in zs)
    pooled = pool(TRIALS)
    assert pooled.cs95[0] < pooled.ci95[0] and pooled.cs95[1] > pooled.ci95[1]


def test_peeking_every_day_at_the_sequence_keeps_false_alarms_under_five_percent() -> None:
    """A/A tests (no effect) looked at on each of 30 days: the fixed interval cries wolf far more
    often than 5 %; the always-valid sequence does not."""
    rng = random.Random(3)
    naive = sequential = 0
    runs = 300
    for _ in range(runs):
        t = h = tc = hc = 0
        wolf = seq_wolf = False
        for _day in range(30):
            for _visit in range(300):
                if rng.random() < 0.9:
                    t += 1
                    tc += rng.random() < 0.1
                else:
                    h += 1
                    hc += rng.random() < 0.1
            if h and t:
                p = pool([Stratum("s", t, tc, h, hc)])
                wolf |= not p.ci95[0] <= 0 <= p.ci95[1]
                seq_wolf |= not p.cs95[0] <= 0 <= p.cs95[1]
        naive += wolf
        sequential += seq_wolf
    assert sequential / runs <= 0.05 < naive / runs


def test_in_words_and_the_odds_tests() -> None:
    text = in_words(pool(TRIALS))
    assert text.startswith("Across 13 stores alerts lowered conversion by 0.3 points (-0.4 to -0.3)")
    assert text.endswith("stores differ more than chance explains")
    tests = odds_tests(TRIALS)
    assert tests["cmh_p"] is not None and tests["cmh_p"] < 1e-6
    assert tests["breslow_day_p"] is not None and tests["breslow_day_p"] < 1e-6


def test_pooling_finds_a_simulated_chain_wide_effect_one_store_cannot() -> None:
    """300 stores, a month of 300 decided visits a day each, a true +1 point on a 10 % base."""
    rng = random.Random(5)
    stores = []
    for i in range(300):
        treated, holdout = 8100, 900
        t_conv = sum(rng.random() < 0.11 for _ in range(treated))
        h_conv = sum(rng.random() < 0.10 for _ in range(holdout))
        stores.append(Stratum(f"s{i}", treated, t_conv, holdout, h_conv))
    pooled = pool(stores)
    assert pooled.ci95[0] < 0.01 < pooled.ci95[1] and pooled.cs95[0] > 0  # found, and decided
    alone = pool(stores[:1])
    assert alone.cs95[0] < 0 < alone.cs95[1]  # one store's month decides nothing
