"""Hints for staff on an alert, worded for a person: first visit, regular, lapsed, owns."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

from ..core.events import Hint

DAY = 86400


def _ago(days: int) -> str:
    if days < 14:
        return f"{days} days ago"
    if days < 91:
        return f"{days // 7} weeks ago"
    return f"{round(days / 30.4)} months ago"


def visit_hints(days: Sequence[int], today: int, imported_visits_90d: int = 0) -> list[Hint]:
    """From the days the box saw the customer before today (and, before it knew them, the CRM's count)."""
    previous = sorted(d for d in set(days) if d < today)
    if not previous and imported_visits_90d >= 3:
        return [Hint("regular", f"Regular — {imported_visits_90d} visits in the last 90 days")]
    if not previous and imported_visits_90d == 0:
        return [Hint("first_visit", "First visit to this store — a warm welcome goes a long way")]
    if not previous:
        return []
    since = today - previous[-1]
    gaps = [b - a for a, b in itertools.pairwise(previous)]
    usual = round(statistics.median(gaps)) if gaps else None
    if usual and since >= 3 * usual and since >= 21:
        return [Hint("lapsed", f"Welcome back — usually every {usual} days, last seen {_ago(since)}")]
    recent = [d for d in previous if today - d <= 90]
    if len(recent) >= 3 and usual:
        return [Hint("regular", f"Regular — {len(recent)} visits in the last 90 days, usually every {usual} days")]
    return []


def owns_hints(
    owned: Sequence[tuple[str, str, float]], offers: Sequence[tuple[str, Sequence[str]]], now: float
) -> list[Hint]:
    """Owned items (sku, title, bought_at) that an offer (title, skus) goes with or cares for."""
    hints = []
    for sku, title, bought_at in owned:
        for offer_title, skus in offers:
            if sku in skus:
                when = _ago(max(0, int((now - bought_at) // DAY)))
                hints.append(Hint("owns", f"Bought the {title} {when} — “{offer_title}” goes with it"))
                break
    return hints[:2]
