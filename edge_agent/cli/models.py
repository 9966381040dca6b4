"""`edge-agent model info|verify|score`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from ..core.errors import EdgeAgentError
from ..core.events import Customer
from ..learning.profile import blend
from ..runtime.learned import YEAR_S, keep_away
from ..scoring.catalog import OfferCatalog
from ..scoring.rules import Context
from ..store import catalog as catalog_table
from ..store import outcomes
from ..store.offers import SqliteOffers
from .common import ConfigOpt, JsonOpt, cells, console, data_table, get_config, group, open_store, print_json

app = group("The offer-scoring model.")


@app.command()
def info(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Version, sha256, features and held-out metrics of the model the agent would use."""
    from ..scoring.onnx import ModelScorer, model_candidates  # numpy and onnxruntime: only for the model commands

    cfg = get_config(config)
    scorer = ModelScorer(model_candidates(cfg.data_dir, cfg.scoring.model))
    active = scorer.active
    if active is None:
        raise EdgeAgentError(f"no usable model; the agent would use the rule scorer ({scorer.fallback_reason})")
    m = active.manifest
    data: dict[str, Any] = {
        "name": m.name,
        "version": m.version,
        "path": str(active.path),
        "sha256": active.sha256,
        "feature_schema": m.feature_schema,
        "features": list(m.features),
        "metrics": m.metrics,
    }
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{m.name}[/] {m.version}  ({active.path})")
    console.print(f"sha256 {active.sha256}")
    console.print(f"features ({m.feature_schema}, {len(m.features)}): {', '.join(m.features)}", highlight=False)
    table = data_table("model", "AUC", "log-loss", "bytes")
    for name, metric in m.metrics.items():
        table.add_row(*cells(name, f"{metric['auc']:.4f}", f"{metric['log_loss']:.4f}", str(metric.get("bytes", "–"))))
    console.print(table)


@app.command()
def verify(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Check every model the agent may load: sha256, feature schema, a test run."""
    from ..scoring.onnx import Manifest, ModelError, OnnxScorer, model_candidates  # numpy, onnxruntime: here only

    cfg = get_config(config)
    results: list[dict[str, Any]] = []
    for manifest_path in model_candidates(cfg.data_dir, cfg.scoring.model):
        if not manifest_path.exists():
            continue
        try:
            scorer = OnnxScorer(Manifest.read(manifest_path))
            results.append(
                {
                    "manifest": str(manifest_path),
                    "ok": True,
                    "version": scorer.manifest.version,
                    "sha256": scorer.sha256,
                }
            )
        except ModelError as exc:
            results.append({"manifest": str(manifest_path), "ok": False, "error": str(exc)})
    if as_json:
        print_json(results)
    else:
        for r in results:
            status = f"ok {r['version']} {r['sha256'][:16]}…" if r["ok"] else f"FAILED: {r['error']}"
            typer.echo(f"{r['manifest']}: {status}")
    if not results or not results[0]["ok"]:
        raise typer.Exit(1)


@app.command()
def score(
    customer: Annotated[str, typer.Option("--customer", help="customer_id to score offers for.")],
    zone: Annotated[str, typer.Option(help="Zone the customer is in.")] = "entrance",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank a customer's eligible offers, with the reasons staff would see."""
    from ..scoring.onnx import ModelScorer, model_candidates  # numpy and onnxruntime: only for the model commands

    cfg = get_config(config)
    with open_store(cfg) as conn:
        row = catalog_table.customer(conn, customer)
        if row is None:
            raise EdgeAgentError(f"no customer {customer!r} (see `edge-agent customer list`)")
        now = datetime.now()
        # As staff would see it at the door: what the store has learned about them included.
        learned = outcomes.affinities(conn, customer, now.timestamp(), cfg.learning.half_life_s)
        owned = tuple(sku for sku, _, _ in outcomes.owned_items(conn, customer, now.timestamp() - YEAR_S))
        taste = blend(tuple(row["preferred_categories"]), learned)
        who = Customer(
            row["customer_id"],
            row["display_name"],
            row["tier"],
            row["consent"],
            taste.preferred,
            row["visits_90d"],
            row["spend_90d"],
        )
        context = Context(zone=zone, hour=now.hour, weekday=now.weekday(), affinities=taste.affinities, owned=owned)
        scorer = ModelScorer(model_candidates(cfg.data_dir, cfg.scoring.model))
        offers = OfferCatalog(SqliteOffers(conn))  # the same candidates as the running agent's
        ranked = keep_away(scorer.score(who, offers.candidates(who, now.date(), context), context), offers, taste)
    engine = scorer.active.manifest.version if scorer.active else f"rules ({scorer.fallback_reason})"
    if as_json:
        print_json(
            {
                "customer_id": who.customer_id,
                "zone": zone,
                "scorer": engine,
                "offers": [
                    {"offer_id": s.offer_id, "title": s.title, "score": s.score, "reason": s.reason} for s in ranked
                ],
            }
        )
        return
    console.print(f"{who.display_name or who.customer_id} ({who.tier}) in {zone} — scored by {engine}", markup=False)
    if not who.consent:
        console.print("note: this customer has not consented; the agent never recognises them", style="yellow")
    table = data_table("#", "offer", "title", "score", "reason")
    for i, s in enumerate(ranked, 1):
        table.add_row(*cells(str(i), s.offer_id, s.title, f"{s.score:.3f}", s.reason))
    console.print(table)
