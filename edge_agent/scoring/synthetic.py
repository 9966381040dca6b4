"""A documented synthetic world of customers × offers × context with a known propensity.

Because the true P(accept) is known, the oracle's AUC is the ceiling any model can reach on
this data; the model card reports oracle, fp32 and int8 side by side. Used by the training
script (`models/train.py`) and by `bench/scoring.py`; needs only numpy.

Every customer has a hidden taste: a liking 0..1 per category (one or two favourites at
0.6..1, the rest 0..0.3) and perhaps one category they dislike. The agent never sees it. It
sees two imperfect views: the CRM import's `preferred_categories` (current for half of the
customers; for the others exported before their taste moved) and, for about two thirds of
them, learned affinities: the forgotten belief built from mirror, till and staff signals, modelled as
4.5 · liking − 3 · dislike + noise, scaled by how much evidence there is (0.3..2.5) and
kept within ±10 as the store keeps them.

Ground truth, on the logit scale (`sigmoid` gives P(accept)):

    -3.2
    + 2.4 · hidden liking of the offer's category (0..1)  − 1.5 · a category they dislike
    + 1.5 · they tried on one of the offer's SKUs   + 1.8 · they liked one   − 2.0 · they disliked one
    + 0.5 · tier rank (0..3)                          + 0.25 · log1p(visits in 90 days)
    + 1.2 · outerwear when it is colder than 10 °C    − 0.6 · outerwear when warmer than 22 °C
    + 1.0 · accessory offer in a fitting room         + 0.8 · event offer on a weekend
    + 0.9 · event offer after 17:00                   + 2.0 · discount % (0..0.5) × (1 − tier/3)
    + 0.7 · service offer for platinum customers      + 0.3 · log1p(dwell seconds) / 8
    − 0.8 · they own one of the offer's SKUs (+ 0.6 instead for an accessory: it goes with it)
    + 1.0 · the offer has a SKU often liked with what they tried (0.5 if not an accessory)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..core.events import Customer, Offer
from ..learning.profile import bounded
from .features import CATEGORIES, FEATURES, KINDS, feature_matrix, value_pct, zone_kind
from .rules import TIERS, Context, tier_rank

ZONES = ("entrance", "aisles", "fitting-rooms", "checkout", "shoes", "outerwear")


@dataclass(frozen=True, slots=True)
class Hidden:
    """A customer's true taste, which only shows through behaviour."""

    liking: dict[str, float]
    disliked: str | None


def true_logit(customer: Customer, offer: Offer, context: Context, hidden: Hidden) -> float:
    skus = set(offer.skus)
    tier = tier_rank(customer.tier)
    temp = context.temperature_c if context.temperature_c is not None else 15.0
    accessory = offer.kind == "accessory"
    logit = -3.2
    logit += 2.4 * hidden.liking.get(offer.category, 0.0) - 1.5 * (offer.category == hidden.disliked)
    logit += 1.5 * bool(skus & set(context.try_ons)) + 1.8 * bool(skus & set(context.likes))
    logit -= 2.0 * bool(skus & set(context.dislikes))
    logit += 0.5 * tier + 0.25 * math.log1p(customer.visits_90d)
    if offer.category == "outerwear":
        logit += 1.2 * (temp < 10) - 0.6 * (temp > 22)
    logit += 1.0 * (accessory and zone_kind(context.zone) == "fitting")
    logit += 0.8 * (offer.kind == "event" and context.weekday >= 5)
    logit += 0.9 * (offer.kind == "event" and context.hour >= 17)
    logit += 2.0 * (value_pct(offer.value) / 100) * (1 - tier / 3) * (offer.kind == "discount")
    logit += 0.7 * (offer.kind == "service" and customer.tier == "platinum")
    logit += 0.3 * math.log1p(context.dwell_s) / 8
    if skus & set(context.owned):
        logit += 0.6 if accessory else -0.8
    if skus & set(context.also_liked):
        logit += 1.0 if accessory else 0.5
    return logit


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass(frozen=True, slots=True)
class Dataset:
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]


def random_customer(rng: random.Random, i: int) -> tuple[Customer, Hidden]:
    favourites = rng.sample(CATEGORIES, k=rng.randint(1, 2))
    liking = {c: rng.uniform(0.6, 1.0) if c in favourites else rng.uniform(0.0, 0.3) for c in CATEGORIES}
    disliked = rng.choice([c for c in CATEGORIES if c not in favourites]) if rng.random() < 0.4 else None
    if disliked is not None:
        liking[disliked] = 0.0
    # The import is current for half of the customers; for the others their taste moved since.
    imported = favourites if rng.random() < 0.5 else rng.sample(CATEGORIES, k=rng.randint(0, 2))
    customer = Customer(
        customer_id=f"syn-{i}",
        display_name="",
        tier=rng.choices(TIERS, weights=(50, 30, 15, 5))[0],
        consent=True,
        preferred_categories=tuple(imported),
        visits_90d=min(int(rng.expovariate(1 / 4)), 60),
        spend_90d=round(rng.expovariate(1 / 300), 2),
    )
    return customer, Hidden(liking, disliked)


def learned_view(rng: random.Random, hidden: Hidden) -> tuple[tuple[str, float], ...]:
    """What the store has learned so far: nothing for a third, noisy decayed affinities for the rest."""
    if rng.random() < 0.35:
        return ()
    evidence = rng.uniform(0.3, 2.5)
    scores = {
        c: bounded(evidence * (4.5 * like - 3.0 * (c == hidden.disliked) + rng.gauss(0, 1.0)))
        for c, like in hidden.liking.items()
    }
    return tuple(sorted((c, round(a, 3)) for c, a in scores.items() if abs(a) > 0.3))


def random_offer(rng: random.Random, i: int) -> Offer:
    kind = rng.choice(KINDS)
    category = "event" if kind == "event" else rng.choice(CATEGORIES)
    value = f"{rng.choice((5, 10, 15, 20, 30, 50))}%" if kind == "discount" else ""
    return Offer(
        offer_id=f"o-{i}",
        title="",
        category=category,
        kind=kind,
        min_tier=rng.choices(TIERS, weights=(70, 15, 10, 5))[0],
        skus=tuple(f"SKU-{rng.randrange(200)}" for _ in range(rng.randint(1, 3))),
        value=value,
    )


def random_context(rng: random.Random, offer: Offer, learned: tuple[tuple[str, float], ...] = ()) -> Context:
    # Some context shares SKUs with the offer, as it does when a shopper is at a mirror.
    pool = [*offer.skus, *(f"SKU-{rng.randrange(200)}" for _ in range(3))]

    def pick(p: float) -> tuple[str, ...]:
        return tuple(s for s in pool if rng.random() < p)

    return Context(
        zone=rng.choice(ZONES),
        hour=rng.randrange(24),  # late and early hours too: some stores open them, and a test may run then
        weekday=rng.randrange(7),
        dwell_s=rng.expovariate(1 / 300),
        try_ons=pick(0.15),
        likes=pick(0.08),
        dislikes=pick(0.05),
        temperature_c=None if rng.random() < 0.1 else rng.uniform(-5, 32),
        affinities=learned,
        owned=pick(0.06),
        also_liked=pick(0.05),
    )


def generate(n: int, seed: int) -> Dataset:
    """`n` labelled (customer, offer, context) rows from a fixed seed."""
    rng = random.Random(seed)
    customers = [random_customer(rng, i) for i in range(max(n // 20, 1))]
    offers = [random_offer(rng, i) for i in range(400)]
    rows = np.zeros((n, len(FEATURES)), np.float32)
    labels = np.zeros(n, np.int64)
    propensity = np.zeros(n, np.float64)
    for i in range(n):
        (customer, hidden), offer = rng.choice(customers), rng.choice(offers)
        context = random_context(rng, offer, learned_view(rng, hidden))
        rows[i] = feature_matrix(customer, [offer], context)[0]
        propensity[i] = sigmoid(true_logit(customer, offer, context, hidden))
        labels[i] = int(rng.random() < propensity[i])
    return Dataset(rows, labels, propensity)


def auc(scores: npt.NDArray[np.floating], labels: npt.NDArray[np.integer]) -> float:
    """Area under the ROC curve (rank statistic; ties get average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(p: npt.NDArray[np.floating], labels: npt.NDArray[np.integer]) -> float:
    q = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(q) + (1 - labels) * np.log(1 - q)))
