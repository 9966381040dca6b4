"""Weighing advice by trust that is earned (SPEC §16).

A remembered friend's reliability for one shopper is a Beta(α, β) belief that their vote agrees
with what the shopper ends up doing; the weight is its log-odds, clipped to [0, 2] so that a
friend who is usually wrong counts for nothing rather than being read backwards (a reversed vote
would reward contrarians and make votes gameable). An unknown seat weighs w₀ = ln(0.6/0.4): a
vote is a little better than a coin, and nobody earns more without a history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

PRIOR_ALPHA = 3.0
PRIOR_BETA = 2.0
DECAY = 0.9  # older evidence counts ×0.9 per visit
MAX_WEIGHT = 2.0
UNKNOWN_WEIGHT = math.log(0.6 / 0.4)
VOTE_SIGN = {"up": 1.0, "down": -1.0}  # other_size / other_colour advise neither way


@dataclass(frozen=True, slots=True)
class Trust:
    """What the box believes about one remembered friend of one shopper."""

    alpha: float = PRIOR_ALPHA
    beta: float = PRIOR_BETA
    visits: int = 0

    @property
    def reliability(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def weight(self) -> float:
        rho = self.reliability
        return min(max(math.log(rho / (1.0 - rho)), 0.0), MAX_WEIGHT)

    def settled(self, agreements: Iterable[bool]) -> Trust:
        """After one visit: the evidence so far decays towards the prior, then each SKU's outcome
        adds agreement to α or disagreement to β. A visit with no outcome changes nothing."""
        outcomes = list(agreements)
        if not outcomes:
            return self
        alpha = PRIOR_ALPHA + DECAY * (self.alpha - PRIOR_ALPHA)
        beta = PRIOR_BETA + DECAY * (self.beta - PRIOR_BETA)
        agree = sum(1 for a in outcomes if a)
        return Trust(alpha + agree, beta + len(outcomes) - agree, self.visits + 1)


def advice(weighted_votes: Iterable[tuple[float, str]]) -> float:
    """A = Σ w·v / (Σ w + 1) over one SKU's votes: between −1 and 1, shrunk towards 0 when few
    or untrusted people voted (the +1 is the shopper's own, silent, opinion)."""
    total = signed = 0.0
    for weight, value in weighted_votes:
        sign = VOTE_SIGN.get(value)
        if sign is None or weight <= 0:
            continue
        total += weight
        signed += weight * sign
    return signed / (total + 1.0)


def agrees(value: str, outcome: int) -> bool | None:
    """Whether a vote agreed with the SKU's outcome (+1 bought, −1 disliked or not bought);
    None for a vote that advised neither way."""
    sign = VOTE_SIGN.get(value)
    return None if sign is None else (sign > 0) == (outcome > 0)
