"""`edge-agent insights`: what the offers achieve, footfall, dwell and also-liked pairs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..field.insights import insights as compute
from .common import ConfigOpt, JsonOpt, cells, console, data_table, get_config, open_store, print_json

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
        data = compute(conn, days=days, min_support=cfg.learning.min_support)
    if as_json:
        print_json(data)
        return
    conv = data["conversion"]
    console.print(f"[bold]Last {days} days[/]")
    console.print(
        f"conversion: treatment {_pct(conv['treatment_rate'])} of {conv['visits_decided']['treatment']} visits, "
        f"holdout {_pct(conv['holdout_rate'])} of {conv['visits_decided']['holdout']}; uplift {_uplift(conv)}",
        highlight=False,
    )
    table = data_table("offer", "shown (treatment / holdout)", "accepted", "redeemed (t / h)", "uplift")
    for o in data["offers"]:
        table.add_row(
            *cells(
                o["offer_id"],
                f"{o['shown']['treatment']} / {o['shown']['holdout']}",
                str(o["accepted"]),
                f"{o['redeemed']['treatment']} / {o['redeemed']['holdout']}",
                _uplift(o),
            )
        )
    console.print(table)
    visitors = ", ".join(f"{k} {int(v)}" for k, v in sorted(data["footfall"]["visitors"].items())) or "none yet"
    console.print(f"footfall: {visitors}", highlight=False, markup=False)
    for zone, buckets in sorted(data["dwell"].items()):
        console.print(
            f"dwell in {zone}: " + ", ".join(f"≤{le}s {n}" for le, n in buckets.items()), highlight=False, markup=False
        )
    for pair in data["also_liked"]:
        console.print(
            f"also liked: {pair['a']} + {pair['b']} ({pair['support']} sessions or sales)",
            highlight=False,
            markup=False,
        )
