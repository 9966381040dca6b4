"""A documented synthetic world of customers × offers × context with a known propensity.

Because the true P(accept) is known, the oracle's AUC is the ceiling any model can reach on
this data; the model card reports oracle, fp32 and int8 side by side. Used by the training
script (`models/train.py`) and by `bench/scoring.py`; needs only numpy.

Ground truth, on the logit scale (`sigmoid` gives P(accept)):

    -3.2
    + 2.2 · offer category is one the customer prefers
    + 1.5 · they tried on one of the offer's SKUs   + 1.8 · they liked one   − 2.0 · they disliked one
    + 0.5 · tier rank (0..3)                          + 0.25 · log1p(visits in 90 days)
    + 1.2 · outerwear when it is colder than 10 °C    − 0.6 · outerwear when warmer than 22 °C
    + 1.0 · accessory offer in a fitting room         + 0.8 · event offer on a weekend
    + 0.9 · event offer after 17:00                   + 2.0 · discount % (0..0.5) × (1 − tier/3)
    + 0.7 · service offer for platinum customers      + 0.3 · log1p(dwell seconds) / 8
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..events import Customer, Offer
from .features import CATEGORIES, KINDS, feature_matrix, value_pct, zone_kind
from .rules import TIERS, Context, tier_rank

ZONES = ("entrance", "aisles", "fitting-rooms", "checkout", "shoes", "outerwear")


def true_logit(customer: Customer, offer: Offer, context: Context) -> float:
    skus = set(offer.skus)
    tier = tier_rank(customer.tier)
    temp = context.temperature_c if context.temperature_c is not None else 15.0
    logit = -3.2
    logit += 2.2 * (offer.category in customer.preferred_categories)
    logit += 1.5 * bool(skus & set(context.try_ons)) + 1.8 * bool(skus & set(context.likes))
    logit -= 2.0 * bool(skus & set(context.dislikes))
    logit += 0.5 * tier + 0.25 * math.log1p(customer.visits_90d)
    if offer.category == "outerwear":
        logit += 1.2 * (temp < 10) - 0.6 * (temp > 22)
    logit += 1.0 * (offer.kind == "accessory" and zone_kind(context.zone) == "fitting")
    logit += 0.8 * (offer.kind == "event" and context.weekday >= 5)
    logit += 0.9 * (offer.kind == "event" and context.hour >= 17)
    logit += 2.0 * (value_pct(offer.value) / 100) * (1 - tier / 3) * (offer.kind == "discount")
    logit += 0.7 * (offer.kind == "service" and customer.tier == "platinum")
    logit += 0.3 * math.log1p(context.dwell_s) / 8
    return logit


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass(frozen=True, slots=True)
class Dataset:
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]


def random_customer(rng: random.Random, i: int) -> Customer:
    return Customer(
        customer_id=f"syn-{i}",
        display_name="",
        tier=rng.choices(TIERS, weights=(50, 30, 15, 5))[0],
        consent=True,
        preferred_categories=tuple(rng.sample(CATEGORIES, k=rng.randint(0, 3))),
        visits_90d=min(int(rng.expovariate(1 / 4)), 60),
        spend_90d=round(rng.expovariate(1 / 300), 2),
    )


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


def random_context(rng: random.Random, offer: Offer) -> Context:
    # Some context shares SKUs with the offer, as it does when a shopper is at a mirror.
    pool = [*offer.skus, *(f"SKU-{rng.randrange(200)}" for _ in range(3))]

    def pick(p: float) -> tuple[str, ...]:
        return tuple(s for s in pool if rng.random() < p)

    return Context(
        zone=rng.choice(ZONES),
        hour=rng.randrange(8, 22),
        weekday=rng.randrange(7),
        dwell_s=rng.expovariate(1 / 300),
        try_ons=pick(0.15),
        likes=pick(0.08),
        dislikes=pick(0.05),
        temperature_c=None if rng.random() < 0.1 else rng.uniform(-5, 32),
    )


def generate(n: int, seed: int) -> Dataset:
    """`n` labelled (customer, offer, context) rows from a fixed seed."""
    rng = random.Random(seed)
    customers = [random_customer(rng, i) for i in range(max(n // 20, 1))]
    offers = [random_offer(rng, i) for i in range(400)]
    rows = np.zeros((n, len(feature_matrix(customers[0], offers[:1], random_context(rng, offers[0]))[0])), np.float32)
    labels = np.zeros(n, np.int64)
    propensity = np.zeros(n, np.float64)
    for i in range(n):
        customer, offer = rng.choice(customers), rng.choice(offers)
        context = random_context(rng, offer)
        rows[i] = feature_matrix(customer, [offer], context)[0]
        propensity[i] = sigmoid(true_logit(customer, offer, context))
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
