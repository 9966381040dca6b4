"""Learned preferences: category affinities that fade with a half-life, blended with the import.

An affinity is a log-weight in signal units: 0 is "nothing seen", a like adds 2. Together the
affinities are a belief about which category is the customer's favourite now, and that belief
is forgotten in probability space: with each half-life it moves halfway back towards "any of
them". Thin evidence therefore fades like a plain half-life, while a long-held favourite loses
its lead quickly once behaviour points elsewhere (a taste is a state, not a tally).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .. import mirror

_OWN = {"purchase": 3.0, "accepted": 1.0, "dismissed": -0.5}


class _Signals(Mapping[str, float]):
    """How much one observation says about a customer's taste for the item's category: a sale and
    staff's taps here, each mirror event kind in its own module (`edge_agent/mirror/`)."""

    def __getitem__(self, name: str) -> float:
        kind = mirror.kind_of(name)
        if kind is not None and kind.teaches is not None:
            return kind.teaches
        return _OWN[name]

    def __iter__(self) -> Iterator[str]:
        yield from _OWN
        yield from (k.name for k in mirror.kinds() if k.teaches is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


SIGNALS: Mapping[str, float] = _Signals()
EVIDENCE = 1.5  # |affinity| needed before a category counts as liked or disliked
CLOSE_TO_TOP = 0.8  # a learned like counts only if it is at least this share of the strongest one
MAX_PREFERRED = 3
DISLIKED_PENALTY = 0.3  # score multiplier for offers in a category the customer showed they dislike
AFFINITY_CAP = 10.0  # about three visits of clear interest; also keeps the weights finite
BELIEF_RATE = 0.5  # one like (+2) makes its category e ≈ 2.7 times as likely to be the favourite
PRIOR_CATEGORIES = 8  # categories a favourite is drawn from, for forgetting (more if the customer showed more)


def bounded(score: float) -> float:
    """An affinity kept within ±AFFINITY_CAP."""
    return max(-AFFINITY_CAP, min(AFFINITY_CAP, score))


def forget(affinities: Mapping[str, float], age_s: float, half_life_s: float) -> dict[str, float]:
    """The affinities `age_s` later: the belief has moved back towards "any category" by the half-life."""
    if age_s <= 0 or not affinities:
        return dict(affinities)
    keep = 0.5 ** (age_s / half_life_s)
    weights = {c: math.exp(BELIEF_RATE * a) for c, a in affinities.items()}
    unseen = max(PRIOR_CATEGORIES, len(weights) + 1) - len(weights)
    spread = (1 - keep) * (sum(weights.values()) + unseen) / (len(weights) + unseen)
    unit = keep + spread  # what a category never seen weighs now; it stays the zero point
    return {c: bounded(math.log((keep * w + spread) / unit) / BELIEF_RATE) for c, w in weights.items()}


def learn(
    affinities: Mapping[str, float], category: str, signal: float, age_s: float, half_life_s: float
) -> dict[str, float]:
    """One observation about `category`, `age_s` after the affinities were last written."""
    moved = forget(affinities, age_s, half_life_s)
    moved[category] = bounded(moved.get(category, 0.0) + signal)
    return moved


def learn_at(
    held: Mapping[str, float], at: float | None, category: str, signal: float, ts: float, half_life_s: float
) -> tuple[dict[str, float], float]:
    """`learn` for affinities last written at `at` (None: never): the new affinities and their time."""
    if at is None:
        return learn(held, category, signal, 0.0, half_life_s), ts
    return learn(held, category, signal, ts - at, half_life_s), max(at, ts)


def relative(affinities: Sequence[tuple[str, float]], category: str) -> float:
    """The category's affinity as a share of the customer's strongest one (−1..1; thin evidence stays small)."""
    strongest = max((abs(a) for _, a in affinities), default=0.0)
    own = next((a for c, a in affinities if c == category), 0.0)
    return own / max(strongest, 2 * EVIDENCE)


@dataclass(frozen=True, slots=True)
class Taste:
    """What scoring uses: preferred categories (learned first) and categories to keep away from."""

    preferred: tuple[str, ...]
    disliked: frozenset[str]
    affinities: tuple[tuple[str, float], ...] = ()  # the learned affinities themselves, for the model


def blend(imported: Sequence[str], affinities: Mapping[str, float]) -> Taste:
    """Learned likes lead; an imported preference stays unless behaviour showed a dislike of it."""
    top = max(affinities.values(), default=0.0)
    floor = max(EVIDENCE, CLOSE_TO_TOP * top)
    liked = sorted((c for c, s in affinities.items() if s >= floor), key=lambda c: (-affinities[c], c))
    disliked = frozenset(c for c, s in affinities.items() if s <= -EVIDENCE)
    # A clear learned favourite outranks the import; the import fills in while evidence is thin.
    kept = [c for c in imported if c not in disliked and c not in liked and not liked]
    return Taste(tuple([*liked, *kept][:MAX_PREFERRED]), disliked, tuple(sorted(affinities.items())))
