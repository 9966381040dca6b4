"""Did the alerts lift conversion? Pooled across stores, stratified by store (no I/O here).

Each store is a stratum: decided visits and conversions in the treatment arm (alerted) and the
holdout arm (§8's deterministic holdout). The pooled effect is the Cochran–Mantel–Haenszel risk
difference with weights n₁n₀/N; its variance is Greenland & Robins's (Biometrics 41, 1985),
valid when there are many strata or large ones. Around it:

- a fixed-horizon 95 % interval (read it once, at a horizon fixed in advance);
- an always-valid 95 % confidence sequence: Robbins's normal-mixture boundary (Robbins 1970;
  the two-sided form of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric,
  nonasymptotic confidence sequences", Ann. Statist. 49, 2021, eq. 14), applied to the estimate
  as in Waudby-Smith et al., "Time-uniform central limit theory and asymptotic confidence
  sequences" (Ann. Statist. 2024): it holds at every look at once, so a data team may look every
  day without inflating false positives;
- heterogeneity between stores: Cochran's Q on the stores' risk differences (and, from
  statsmodels' `StratifiedTable`, the CMH test and Breslow–Day's test on odds ratios).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
CS_PRIOR_VISITS = 1000.0  # ρ of the mixture, in decided visits: the sequence is tightest near ~10× this


@dataclass(frozen=True, slots=True)
class Stratum:
    """One store: (visits, conversions) in each arm."""

    store_id: str
    treated: float
    treated_converted: float
    holdout: float
    holdout_converted: float

    @property
    def total(self) -> float:
        return self.treated + self.holdout

    @property
    def usable(self) -> bool:
        return self.treated > 0 and self.holdout > 0

    def risk_difference(self) -> tuple[float, float]:
        """This store's own difference in conversion and its (Wald) variance."""
        p1, p0 = self.treated_converted / self.treated, self.holdout_converted / self.holdout
        return p1 - p0, p1 * (1 - p1) / self.treated + p0 * (1 - p0) / self.holdout


@dataclass(frozen=True, slots=True)
class Pooled:
    stores: int
    visits: float
    risk_difference: float
    variance: float
    heterogeneity_p: float | None

    @property
    def ci95(self) -> tuple[float, float]:
        half = Z95 * math.sqrt(self.variance)
        return self.risk_difference - half, self.risk_difference + half

    @property
    def cs95(self) -> tuple[float, float]:
        half = confidence_sequence_z(self.visits) * math.sqrt(self.variance)
        return self.risk_difference - half, self.risk_difference + half


def mantel_haenszel(strata: Iterable[Stratum]) -> tuple[float, float]:
    """The CMH risk difference Σ(a·n₀ − c·n₁)/N ÷ Σ n₁n₀/N and Greenland–Robins's variance
    Σ (a·b·n₀³ + c·d·n₁³)/(n₁n₀N²) ÷ (Σ n₁n₀/N)², with a, b the treated arm's converted and not,
    c, d the holdout's."""
    num = weights = var_num = 0.0
    for s in strata:
        if not s.usable:
            continue
        # floats: a chain's counts cubed overflow 64-bit integers (numpy's, say)
        n1, n0, total = float(s.treated), float(s.holdout), float(s.total)
        a, c = float(s.treated_converted), float(s.holdout_converted)
        b, d = n1 - a, n0 - c
        num += (a * n0 - c * n1) / total
        weights += n1 * n0 / total
        var_num += (a * b * n0**3 + c * d * n1**3) / (n1 * n0 * total**2)
    if weights == 0:
        raise ValueError("no store has visits in both arms")
    return num / weights, var_num / weights**2


def cochran_q_p(strata: Sequence[Stratum], pooled: float) -> float | None:
    """p-value of Cochran's Q: do the stores' risk differences differ more than chance allows?"""
    from scipy.stats import chi2

    q, df = 0.0, -1
    for s in strata:
        if not s.usable:
            continue
        rd, var = s.risk_difference()
        if var <= 0:
            continue
        q += (rd - pooled) ** 2 / var
        df += 1
    return float(chi2.sf(q, df)) if df >= 1 else None


def confidence_sequence_z(visits: float, alpha: float = 0.05, rho: float = CS_PRIOR_VISITS) -> float:
    """The multiplier of the standard error that makes the normal-mixture boundary: with n
    decided visits, sqrt((n + ρ)/n · log((n + ρ)/(ρ α²))) (always above the fixed 1.96)."""
    n = max(visits, 1.0)
    return math.sqrt((n + rho) / n * math.log((n + rho) / (rho * alpha**2)))


def pool(strata: Sequence[Stratum]) -> Pooled:
    rd, var = mantel_haenszel(strata)
    usable = [s for s in strata if s.usable]
    return Pooled(len(usable), sum(s.total for s in usable), rd, var, cochran_q_p(usable, rd))


def odds_tests(strata: Sequence[Stratum]) -> dict[str, float | None]:
    """statsmodels' CMH test of no association and Breslow–Day's test of equal odds ratios."""
    import numpy as np
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = [
        np.array(
            [
                [s.treated_converted, s.treated - s.treated_converted],
                [s.holdout_converted, s.holdout - s.holdout_converted],
            ]
        )
        for s in strata
        if s.usable and 0 < s.treated_converted + s.holdout_converted < s.total
    ]
    if len(tables) < 2:
        return {"cmh_p": None, "breslow_day_p": None}
    st = StratifiedTable(tables)
    return {"cmh_p": float(st.test_null_odds().pvalue), "breslow_day_p": float(st.test_equal_odds().pvalue)}


def in_words(pooled: Pooled, what: str = "alerts") -> str:
    """The pooled effect as a manager reads it, like `insights`."""
    lo, hi = pooled.ci95
    points = 100 * pooled.risk_difference
    verb = "lifted" if points >= 0 else "lowered"
    spread = (
        "too few stores to tell whether they differ"
        if pooled.heterogeneity_p is None
        else "stores differ little"
        if pooled.heterogeneity_p >= 0.05
        else "stores differ more than chance explains"
    )
    return (
        f"Across {pooled.stores} store{'s' if pooled.stores != 1 else ''} {what} {verb} conversion by "
        f"{abs(points):.1f} points ({100 * lo:.1f} to {100 * hi:.1f}); {spread}"
    )
