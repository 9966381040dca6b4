"""`edge-agent insights`: what the offers achieve, footfall, dwell and also-liked pairs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..field.insights import Lens
from ..field.insights import insights as compute
from .common import ConfigOpt, JsonOpt, cells, console, data_table, get_config, open_store, plain, print_json

DaysOpt = Annotated[int, typer.Option("--days", min=1, max=3650, help="How many days back.")]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _uplift(data: dict[str, Any]) -> str:
    if not data["enough_data"]:
        return "not enough data"
    return f"{data['uplift'] * 100:+.1f} pts (95 % CI {data['ci95_low'] * 100:+.1f} to {data['ci95_high'] * 100:+.1f})"


def insights(config: ConfigOpt = None, days: DaysOpt = 28, as_json: JsonOpt = False) -> None:
    """Per offer shown / accepted / redeemed, conversion treatment vs holdout with uplift, footfall, dwell."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        data = compute(conn, Lens.of(cfg), days=days)
    if as_json:
        print_json(data)
        return
    conv = data["conversion"]
    console.print(plain(f"Last {days} days. {conv['summary']}"))
    console.print(
        plain(
            f"conversion: with an alert {_pct(conv['treatment_rate'])} of {conv['visits_decided']['treatment']} "
            f"decided visits, held out {_pct(conv['holdout_rate'])} of {conv['visits_decided']['holdout']}"
        )
    )
    table = data_table("offer", "shown (alert / held out)", "accepted", "redeemed (alert / held out)", "uplift")
    for o in data["offers"]:
        shown, redeemed = o["shown"], o["redeemed"]
        table.add_row(*cells(o["title"], f"{shown['treatment']} / {shown['holdout']}", o["accepted"],
                             f"{redeemed['treatment']} / {redeemed['holdout']}", _uplift(o)))  # fmt: skip
    console.print(table)
    visitors = ", ".join(f"{k} {int(v)}" for k, v in sorted(data["footfall"]["visitors"].items())) or "none yet"
    console.print(plain(f"footfall: {visitors}"))
    for zone in data["dwell_zones"]:
        median = "–" if zone["median_min"] is None else f"{zone['median_min']:g} min"
        p90 = "–" if zone["p90_min"] is None else f"{zone['p90_min']:g} min"
        console.print(plain(f"dwell in {zone['zone']}: {zone['stays']} stays, median {median}, 90 % within {p90}"))
    for pair in data["also_liked"]:
        seen = "once" if pair["support"] == 1 else f"{pair['support']} times"
        console.print(plain(f"often together: {pair['a_title']} + {pair['b_title']} ({seen})"))
    console.print(plain(conv["method"]), style="dim")
