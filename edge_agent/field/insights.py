"""Insights for the store manager: what the offers achieve, footfall, dwell, also-liked (docs/interface.md).

The same figures feed `edge-agent insights` and the `/insights` page.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..aggregation.rollup import DWELL_BOUNDS
from ..config.agent import AgentConfig
from ..learning.uplift import Uplift, newcombe, visits_needed
from ..store import Database, connect, outcomes

GROUPS = ("treatment", "holdout")


@dataclass(frozen=True, slots=True)
class Lens:
    """What the store's config says about how to read its figures."""

    min_support: int = 3  # an also-liked pair needs this many sessions or sales
    zones: tuple[str, ...] = ()  # listed even when nobody stayed there
    holdout_pct: float = 10.0  # the share of customers held out, which the power calculation plans with

    @classmethod
    def of(cls, config: AgentConfig) -> Lens:
        return cls(config.learning.min_support, tuple(z.id for z in config.zones), config.scoring.holdout_pct)


DEFAULT_LENS = Lens()


def insights_of(db_path: Path, lens: Lens, days: int) -> dict[str, Any]:
    """`insights` through a read-only connection of its own: the long queries run in a worker
    thread and never share the running agent's reader with the event loop."""
    with closing(connect(db_path, readonly=True)) as reader:
        return insights(reader, lens, days=days)


def insights(
    reader: Database, lens: Lens = DEFAULT_LENS, *, days: int = 28, now: float | None = None
) -> dict[str, Any]:
    """Everything the insights page and `edge-agent insights` show."""
    now = time.time() if now is None else now
    titles = outcomes.offer_titles(reader)
    products = outcomes.product_titles(reader)
    rows = outcomes.metric_rows(reader, now - days * 86400)
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    hourly: dict[float, float] = defaultdict(float)
    for bucket, name, labels, value in rows:
        totals[(name, tuple(sorted(labels.items())))] += value
        if name == "footfall_visitors":
            hourly[bucket - bucket % 3600] += value
    return {
        "days": days,
        "conversion": _conversion(totals, lens.holdout_pct),
        "offers": [{**o, "title": titles.get(o["offer_id"], o["offer_id"])} for o in _offers(totals)],
        "footfall": {
            "visitors": {k: v for (n, lb), v in totals.items() if n == "footfall_visitors" for _, k in lb},
            "per_hour": [
                {"hour": time.strftime("%Y-%m-%dT%H:00", time.gmtime(h)), "visitors": v}
                for h, v in sorted(hourly.items())
            ],
        },
        "dwell": _dwell(totals),
        "dwell_zones": [dwell_summary(zone, buckets) for zone, buckets in _every_zone(_dwell(totals), lens.zones)],
        "also_liked": [
            {"a": a, "b": b, "support": n, "a_title": _title(products, a), "b_title": _title(products, b)}
            for a, b, n in outcomes.top_pairs(reader, lens.min_support)
        ],
    }


def _title(products: dict[str, tuple[str, str]], sku: str) -> str:
    return (products.get(sku) or (sku, ""))[0] or sku


def _every_zone(dwell: dict[str, dict[str, int]], zones: Sequence[str]) -> list[tuple[str, dict[str, int]]]:
    names = [*zones, *sorted(z for z in dwell if z not in zones)]
    return [(zone, dwell.get(zone, {})) for zone in names]


def dwell_summary(zone: str, buckets: dict[str, int]) -> dict[str, Any]:
    """Stays in a zone and their median and 90th percentile in minutes (read off the histogram)."""
    stays = buckets.get("+Inf", max(buckets.values(), default=0))
    return {
        "zone": zone,
        "stays": stays,
        "median_min": _percentile(buckets, stays, 0.5),
        "p90_min": _percentile(buckets, stays, 0.9),
    }


def _percentile(buckets: dict[str, int], total: int, q: float) -> float | None:
    """Linear within the histogram bucket that holds the q-th stay; past the last bound, that bound."""
    if total == 0:
        return None
    want, low, below = q * total, 0.0, 0
    for bound in DWELL_BOUNDS:
        upto = buckets.get(str(bound), below)
        if upto >= want:
            share = (want - below) / max(upto - below, 1)
            return round((low + share * (bound - low)) / 60, 1)
        low, below = float(bound), upto
    return round(DWELL_BOUNDS[-1] / 60, 1)


def _get(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> int:
    return int(totals.get((name, tuple(sorted(labels.items()))), 0))


def _conversion(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float], holdout_pct: float) -> dict[str, Any]:
    decided = {g: _get(totals, "visits_decided", group=g) for g in GROUPS}
    converted = {g: _get(totals, "visits_converted", group=g) for g in GROUPS}
    uplift = newcombe(converted["treatment"], decided["treatment"], converted["holdout"], decided["holdout"])
    seen = decided["treatment"] + decided["holdout"]
    needed = visits_needed(uplift.treatment_rate, uplift.holdout_rate, 1 - holdout_pct / 100) if holdout_pct else None
    more = max(0, needed - seen) if needed is not None else None
    return {
        "visits_decided": decided,
        "visits_converted": converted,
        "sales_amount": {g: totals.get(("sales_amount", (("group", g),)), 0.0) for g in (*GROUPS, "unattributed")},
        **uplift.to_json(),
        "visits_needed": needed,
        "summary": _in_words(uplift, decided, more),
        "method": (
            "Conversion is the share of decided visits followed by a sale within the attribution window; "
            "uplift is the difference between customers who got an alert and the held-out ones, with "
            "Newcombe's hybrid score interval (Wilson intervals combined) at 95 %; visits needed from the "
            "two-proportion sample size for 95 % confidence and 80 % power."
        ),
    }


def _in_words(uplift: Uplift, decided: dict[str, int], more: int | None) -> str:
    """What a store manager reads: the effect, how sure, and what it would take to tell."""
    if more is None:
        return "Nobody is held out (scoring.holdout_pct is 0), so whether the alerts work cannot be measured."
    total = decided["treatment"] + decided["holdout"]
    tell = f"needs about {_round(more)} more decided visits to tell" if more else "more visits will narrow it"
    if not uplift.enough_data or uplift.uplift is None or uplift.ci95_low is None or uplift.ci95_high is None:
        got = f"{decided['treatment']} with an alert, {decided['holdout']} held out"
        return f"Not enough decided visits yet ({got}); {tell}."
    points, low, high = (round(v * 100) for v in (uplift.uplift, uplift.ci95_low, uplift.ci95_high))
    if uplift.ci95_low > 0:
        return f"Alerts lifted conversion by {points} points (between {low} and {high}) over {total} decided visits."
    if uplift.ci95_high < 0:
        return (
            f"Alerts lowered conversion by {-points} points (between {-high} and {-low}) over {total} decided visits."
        )
    return (
        f"No clear difference yet: {points:+d} points (between {low} and {high}) over {total} decided visits; {tell}."
    )


def _round(n: int) -> str:
    """1 400 rather than 1 387: a planning figure, written as one."""
    step = 100 if n >= 1000 else 10 if n >= 100 else 1
    return f"{round(n / step) * step:,}".replace(",", " ")


def _offers(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[dict[str, Any]]:
    ids = sorted(
        {
            dict(lb)["offer_id"]
            for (n, lb) in totals
            if n in ("offers_shown", "offers_redeemed") and dict(lb).get("offer_id")
        }
    )
    out = []
    for offer_id in ids:
        shown = {g: _get(totals, "offers_shown", offer_id=offer_id, group=g) for g in GROUPS}
        redeemed = {g: _get(totals, "offers_redeemed", offer_id=offer_id, group=g) for g in GROUPS}
        accepted = _get(totals, "offers_accepted", offer_id=offer_id, group="treatment")
        uplift = newcombe(redeemed["treatment"], shown["treatment"], redeemed["holdout"], shown["holdout"])
        out.append(
            {"offer_id": offer_id, "shown": shown, "accepted": accepted, "redeemed": redeemed, **uplift.to_json()}
        )
    return out


def _dwell(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (name, lb), value in totals.items():
        if name == "dwell_seconds_bucket":
            labels = dict(lb)
            out[labels["zone"]][labels["le"]] = int(value)
    return dict(out)
