"""Insights for the store manager: what the offers achieve, footfall, dwell, also-liked (SPEC §14).

The same figures feed `edge-agent insights` and the `/insights` page.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from typing import Any

from ..learning.uplift import newcombe
from ..store import outcomes

GROUPS = ("treatment", "holdout")


def insights(
    reader: sqlite3.Connection, *, days: int = 28, min_support: int = 3, now: float | None = None
) -> dict[str, Any]:
    now = time.time() if now is None else now
    rows = outcomes.metric_rows(reader, now - days * 86400)
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    hourly: dict[float, float] = defaultdict(float)
    for bucket, name, labels, value in rows:
        totals[(name, tuple(sorted(labels.items())))] += value
        if name == "footfall_visitors":
            hourly[bucket - bucket % 3600] += value
    return {
        "days": days,
        "conversion": _conversion(totals),
        "offers": _offers(totals),
        "footfall": {
            "visitors": {k: v for (n, lb), v in totals.items() if n == "footfall_visitors" for _, k in lb},
            "per_hour": [
                {"hour": time.strftime("%Y-%m-%dT%H:00", time.gmtime(h)), "visitors": v}
                for h, v in sorted(hourly.items())
            ],
        },
        "dwell": _dwell(totals),
        "also_liked": [{"a": a, "b": b, "support": n} for a, b, n in outcomes.top_pairs(reader, min_support)],
    }


def _get(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> int:
    return int(totals.get((name, tuple(sorted(labels.items()))), 0))


def _conversion(totals: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, Any]:
    decided = {g: _get(totals, "visits_decided", group=g) for g in GROUPS}
    converted = {g: _get(totals, "visits_converted", group=g) for g in GROUPS}
    uplift = newcombe(converted["treatment"], decided["treatment"], converted["holdout"], decided["holdout"])
    return {
        "visits_decided": decided,
        "visits_converted": converted,
        "sales_amount": {g: totals.get(("sales_amount", (("group", g),)), 0.0) for g in (*GROUPS, "unattributed")},
        **uplift.to_json(),
        "method": "difference of proportions, Newcombe hybrid score (Wilson) 95 % interval",
    }


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
