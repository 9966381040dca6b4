"""The model's feature schema: one float32 row per (customer, offer, context).

Shared by the runtime scorer and the training script, so the two can never disagree; the
schema's name list is written into the model manifest and checked at load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..core.events import Customer, Offer
from ..learning.profile import EVIDENCE
from .rules import Context, tier_rank

SCHEMA_VERSION = "offer-features/v3"
KINDS = ("discount", "accessory", "service", "event")
CATEGORIES = ("shoes", "bags", "outerwear", "accessories", "event", "beauty", "kids", "other")

FEATURES: tuple[str, ...] = (
    "customer_tier",
    "customer_visits_log",
    "customer_spend_log",
    *(f"offer_kind_{k}" for k in KINDS),
    "offer_min_tier",
    "offer_value_pct",
    "category_preferred",
    "sku_tried_on",
    "sku_liked",
    "sku_disliked",
    "zone_entrance",
    "zone_fitting",
    "zone_other",
    "dwell_log",
    "hour_sin",
    "hour_cos",
    "weekend",
    "temperature",
    "temperature_missing",
    *(f"offer_category_{c}" for c in CATEGORIES),
    "learned_affinity_relative",
    "learned_disliked",
    "owns_offer_sku",
    "also_liked_match",
)

_PCT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def value_pct(value: str) -> float:
    """'15%' → 15.0; anything else (a kit, an amount) → 0."""
    match = _PCT.search(value or "")
    return min(float(match.group(1)), 100.0) if match else 0.0


def zone_kind(zone: str) -> str:
    z = zone.lower()
    if "entr" in z or "door" in z:
        return "entrance"
    if "fitting" in z or "mirror" in z:
        return "fitting"
    return "other"


def feature_row(customer: Customer, offer: Offer, context: Context, out: npt.NDArray[np.float32]) -> None:
    """Fill `out` (len(FEATURES)) for one candidate offer."""
    skus = set(offer.skus)
    kind = zone_kind(context.zone)
    category = offer.category if offer.category in CATEGORIES else "other"
    temp = context.temperature_c
    learned = context.affinity(offer.category)
    values = [
        tier_rank(customer.tier) / 3,
        math.log1p(max(customer.visits_90d, 0)) / 5,
        math.log1p(max(customer.spend_90d, 0.0)) / 10,
        *(float(offer.kind == k) for k in KINDS),
        tier_rank(offer.min_tier) / 3,
        value_pct(offer.value) / 100,
        float(offer.category in customer.preferred_categories),
        float(bool(skus & set(context.try_ons))),
        float(bool(skus & set(context.likes))),
        float(bool(skus & set(context.dislikes))),
        float(kind == "entrance"),
        float(kind == "fitting"),
        float(kind == "other"),
        math.log1p(max(context.dwell_s, 0.0)) / 8,
        math.sin(2 * math.pi * context.hour / 24),
        math.cos(2 * math.pi * context.hour / 24),
        float(context.weekday >= 5),
        0.0 if temp is None else max(-2.0, min(2.0, (temp - 15) / 15)),
        float(temp is None),
        *(float(category == c) for c in CATEGORIES),
        context.relative_affinity(offer.category),
        float(learned <= -EVIDENCE),
        float(bool(skus & set(context.owned))),
        float(bool(skus & set(context.also_liked))),
    ]
    out[:] = values


def feature_matrix(customer: Customer, offers: Sequence[Offer], context: Context) -> npt.NDArray[np.float32]:
    """All of a customer's candidate offers as one batch."""
    matrix = np.zeros((len(offers), len(FEATURES)), dtype=np.float32)
    for i, offer in enumerate(offers):
        feature_row(customer, offer, context, matrix[i])
    return matrix
