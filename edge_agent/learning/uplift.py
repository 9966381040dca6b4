"""Conversion treatment vs holdout: the difference of two proportions with Newcombe's interval.

Newcombe's hybrid score interval (method 10 in Newcombe, Statistics in Medicine 1998) combines
the Wilson score intervals of the two proportions; unlike the Wald interval it behaves at small
counts and near 0 or 1, which is where a store's first weeks are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
MIN_PER_GROUP = 20  # below this, "not enough data" rather than a meaningless figure


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Uplift:
    treatment_rate: float | None
    holdout_rate: float | None
    uplift: float | None
    ci95_low: float | None
    ci95_high: float | None
    enough_data: bool

    def to_json(self) -> dict[str, float | bool | None]:
        return {
            "treatment_rate": self.treatment_rate,
            "holdout_rate": self.holdout_rate,
            "uplift": self.uplift,
            "ci95_low": self.ci95_low,
            "ci95_high": self.ci95_high,
            "enough_data": self.enough_data,
        }


def newcombe(x_t: int, n_t: int, x_h: int, n_h: int, *, minimum: int = MIN_PER_GROUP) -> Uplift:
    """Uplift = p_treatment − p_holdout with its 95 % interval; `enough_data` False below `minimum` per group."""
    p_t = x_t / n_t if n_t else None
    p_h = x_h / n_h if n_h else None
    if p_t is None or p_h is None or n_t < minimum or n_h < minimum:
        return Uplift(p_t, p_h, None, None, None, False)
    l1, u1 = wilson(x_t, n_t)
    l2, u2 = wilson(x_h, n_h)
    d = p_t - p_h
    low = d - math.sqrt((p_t - l1) ** 2 + (u2 - p_h) ** 2)
    high = d + math.sqrt((u1 - p_t) ** 2 + (p_h - l2) ** 2)
    return Uplift(p_t, p_h, d, low, high, True)


Z80 = 0.8416212335729143  # one-sided z for 80 % power
MIN_DETECTABLE = 0.05  # the uplift a store would care to know about when none is seen yet


def visits_needed(p_treatment: float | None, p_holdout: float | None, treatment_share: float) -> int:
    """Decided visits (both groups) needed to tell the uplift seen so far from none, at 95 %
    confidence and 80 % power — or a 5-point uplift, when nothing is seen yet.

    The usual normal-approximation sample size for two proportions with unequal groups
    (`treatment_share` of the visits get an alert, the rest are held out).
    """
    base = p_holdout if p_holdout is not None else (p_treatment if p_treatment is not None else 0.2)
    effect = (p_treatment - base) if p_treatment is not None and p_holdout is not None else 0.0
    if abs(effect) < MIN_DETECTABLE / 5:
        effect = MIN_DETECTABLE
    p1 = min(max(base + effect, 0.001), 0.999)
    p2 = min(max(base, 0.001), 0.999)
    ratio = max(treatment_share, 0.01) / max(1 - treatment_share, 0.01)  # treatment visits per held-out one
    mean = (p1 * ratio + p2) / (1 + ratio)
    root = Z95 * math.sqrt(mean * (1 - mean) * (1 + 1 / ratio)) + Z80 * math.sqrt(p1 * (1 - p1) / ratio + p2 * (1 - p2))
    holdout = root**2 / (p1 - p2) ** 2
    return math.ceil(holdout * (1 + ratio))
