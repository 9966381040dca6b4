"""`edge-agent fleet land|migrate|status|uplift`: the chain's side (installed with the `fleet` extra)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from ..core.errors import EdgeAgentError
from .common import JsonOpt, group, print_json

app = group("The chain's side: land every store's batches in PostgreSQL, see the fleet, pool experiments.")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="PostgreSQL URL, e.g. postgresql://user@host/edge (else $EDGE_FLEET_DB).", show_default=False
    ),
]


class FleetError(EdgeAgentError):
    """The fleet's database, broker or extra cannot be used (exit 1, one line)."""


def _db(url: str | None) -> str:
    found = url or os.environ.get("EDGE_FLEET_DB")
    if not found:
        raise typer.BadParameter("give the landing database with --db URL or $EDGE_FLEET_DB", param_hint="--db")
    return found


def _modules() -> Any:
    try:
        from ..fleet import land, uplift
        from ..fleet import store as database
    except ImportError as exc:
        raise FleetError(
            f"the fleet commands need the fleet extra: pip install 'edge-agent[fleet]' ({exc.name})"
        ) from None
    return database, land, uplift


async def _connected(url: str) -> Any:
    database, _, _ = _modules()
    try:
        return await database.connect(url)
    except Exception as exc:  # noqa: BLE001 -- psycopg's errors are many; the user needs the one line
        raise FleetError(f"cannot connect to the landing database: {str(exc).strip().splitlines()[0]}") from None


@app.command()
def migrate(db: DbOpt = None) -> None:
    """Create or update the landing tables (batches, metrics, rejected)."""

    async def go() -> list[str]:
        database, _, _ = _modules()
        conn = await _connected(_db(db))
        try:
            applied: list[str] = await database.migrate(conn)
            return applied
        finally:
            await conn.close()

    applied = asyncio.run(go())
    typer.echo(f"applied {', '.join(applied)}" if applied else "the landing tables are up to date")


@app.command()
def land(
    source: Annotated[str, typer.Option("--from", help="mqtt://host:port or nats://host:port of the chain's broker.")],
    db: DbOpt = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Concurrent workers in this process.")] = 1,
    topic: Annotated[
        str, typer.Option(help="Where boxes publish (MQTT form; NATS: its subject).")
    ] = "retail/+/aggregates",
    group_name: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="MQTT $share group (mosquitto, EMQX, HiveMQ); default fleet-land with --workers > 1; "
            "'' for brokers without shared subscriptions (RabbitMQ, NATS's MQTT: use nats:// there).",
        ),
    ] = None,
    client_id: Annotated[
        str, typer.Option(help="MQTT client id prefix (a persistent session per worker).")
    ] = "edge-fleet-land",
    metrics_port: Annotated[int, typer.Option(help="Serve /metrics on this port (0: off).")] = 0,
    progress_s: Annotated[float, typer.Option(help="Seconds between progress lines (0: none).")] = 10.0,
) -> None:
    """Land batches exactly once: from an MQTT broker (persistent QoS 1) or NATS JetStream, into PostgreSQL."""
    url = _db(db)
    if not source.startswith(("mqtt://", "nats://")):
        raise typer.BadParameter("expected mqtt://host:port or nats://host:port", param_hint="--from")
    asyncio.run(_land(source, url, workers, topic, group_name, client_id, metrics_port, progress_s))


async def _land(
    source: str, url: str, workers: int, topic: str, group_name: str | None, client_id: str, port: int, every: float
) -> None:
    database, landing, _ = _modules()
    from ..fleet import consumers

    conn = await _connected(url)
    try:
        await database.migrate(conn)
    finally:
        await conn.close()
    tally = landing.Tally()
    if port:
        _serve_metrics(tally, port)
    shared = (group_name or None) if group_name is not None else ("fleet-land" if workers > 1 else None)
    runs, ready = [], [asyncio.Event() for _ in range(workers)]
    for n in range(workers):
        if source.startswith("nats://"):
            consumer = consumers.nats_consumer(source, topic)
        else:
            consumer = consumers.mqtt_consumer(source, topic, f"{client_id}-{n}", shared)
        runs.append(landing.worker(url, consumer, tally, str(n), ready[n]))
    async with asyncio.TaskGroup() as tg:
        for run in runs:
            tg.create_task(run())
        # Said once every subscription stands: what boxes publish from now on is landed.
        tg.create_task(_say_landing(ready, f"landing {topic} from {source} with {workers} worker(s)"))
        if every > 0:
            tg.create_task(landing.progress(tally, every, lambda line: print(line, file=sys.stderr, flush=True)))


async def _say_landing(ready: list[asyncio.Event], line: str) -> None:
    for event in ready:
        await event.wait()
    typer.echo(line, err=True)


def _serve_metrics(tally: Any, port: int) -> None:
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY, CounterMetricFamily

    class Collector:
        def collect(self) -> Any:
            for name, value, text in (
                ("fleet_batches_landed", tally.landed, "Batches landed (new)"),
                ("fleet_batches_duplicate", tally.duplicates, "Batches delivered again and left as they were"),
                ("fleet_batches_rejected", tally.rejected, "Batches kept aside (not JSON, not the schema)"),
            ):
                yield CounterMetricFamily(name, text, value=value)

    REGISTRY.register(Collector())
    start_http_server(port, addr="127.0.0.1")


@app.command()
def status(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    silent_after: Annotated[
        float, typer.Option("--silent-after", help="Hours without a batch before a store counts as silent.")
    ] = 3.0,
) -> None:
    """Per store: the last batch, its age, versions and health — silent stores first."""

    async def go() -> list[Any]:
        database, _, _ = _modules()
        conn = await _connected(_db(db))
        try:
            return list(await database.latest_per_store(conn))
        finally:
            await conn.close()

    now = datetime.now(UTC)
    stores = []
    for row in asyncio.run(go()):
        age = (now - row.last_batch_at).total_seconds()
        stores.append({
            "store_id": row.store_id, "last_batch_at": row.last_batch_at.isoformat(), "age_s": round(age),
            "silent": age > silent_after * 3600, "agent_version": row.agent_version,
            "model_version": row.model_version, "health": row.health,
        })  # fmt: skip
    stores.sort(key=lambda s: (not s["silent"], -s["age_s"], s["store_id"]))
    if as_json:
        print_json({"stores": stores})
        return
    for s in stores:
        health = s["health"] or {}
        problems = [f"{n} {state}" for n, state in sorted((health.get("links") or {}).items()) if state != "connected"]
        if health.get("store_writable") is False:
            problems.insert(0, "store cannot commit (card full?)")
        typer.echo(
            f"{'SILENT ' if s['silent'] else ''}{s['store_id']}: last batch {_age(s['age_s'])} ago, "
            f"agent {s['agent_version'] or '?'}, model {s['model_version'] or '?'}"
            + (f"; {', '.join(problems)}" if problems else "; healthy")
        )


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172_800 else f"{seconds / 86400:.1f} days"


@app.command()
def uplift(
    db: DbOpt = None,
    days: Annotated[int, typer.Option(min=1, help="Window, ending now.")] = 28,
    offer: Annotated[str | None, typer.Option(help="Only this offer.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The alerts' effect on conversion, pooled across stores (per offer and overall)."""

    async def go() -> list[Any]:
        database, _, _ = _modules()
        conn = await _connected(_db(db))
        try:
            return list(await database.arm_counts(conn, datetime.now(UTC) - timedelta(days=days)))
        finally:
            await conn.close()

    _, _, stats = _modules()
    report = uplift_report(asyncio.run(go()), stats, offer)
    if as_json:
        print_json(report)
        return
    for line in report_lines(report):
        typer.echo(line)


def _strata(rows: list[Any], stats: Any, offer: str | None) -> list[Any]:
    by_store: dict[str, dict[str, tuple[float, float]]] = {}
    for r in rows:
        if r.offer_id == offer:
            by_store.setdefault(r.store_id, {})[r.group] = (r.visits, r.converted)
    out = []
    for store, arms in sorted(by_store.items()):
        t, h = arms.get("treatment", (0.0, 0.0)), arms.get("holdout", (0.0, 0.0))
        out.append(stats.Stratum(store, t[0], t[1], h[0], h[1]))
    return out


def _pooled_json(strata: list[Any], stats: Any) -> dict[str, Any] | None:
    usable = [s for s in strata if s.usable]
    if not usable:
        return None
    pooled = stats.pool(usable)
    return {
        "stores": pooled.stores,
        "treatment": {"visits": sum(s.treated for s in usable), "converted": sum(s.treated_converted for s in usable)},
        "holdout": {"visits": sum(s.holdout for s in usable), "converted": sum(s.holdout_converted for s in usable)},
        "risk_difference": pooled.risk_difference, "ci95": list(pooled.ci95), "cs95": list(pooled.cs95),
        "heterogeneity_p": pooled.heterogeneity_p, **stats.odds_tests(usable), "in_words": stats.in_words(pooled),
    }  # fmt: skip


def uplift_report(rows: list[Any], stats: Any, only_offer: str | None = None) -> dict[str, Any]:
    """`fleet uplift --json`: overall, per offer, per store."""
    overall = _strata(rows, stats, None)
    offers = sorted({r.offer_id for r in rows if r.offer_id is not None and (only_offer in (None, r.offer_id))})
    stores: dict[str, Any] = {}
    for s in overall:
        if s.usable:
            rd, var = s.risk_difference()
            half = stats.Z95 * var**0.5
            stores[s.store_id] = {
                "treatment": {"visits": s.treated, "converted": s.treated_converted},
                "holdout": {"visits": s.holdout, "converted": s.holdout_converted},
                "risk_difference": rd, "ci95": [rd - half, rd + half],
            }  # fmt: skip
    return {
        "overall": _pooled_json(overall, stats),
        "offers": {o: _pooled_json(_strata(rows, stats, o), stats) for o in offers},
        "stores": stores,
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    overall = report["overall"]
    if overall is None:
        return ["No store has decided visits in both arms yet: nothing to compare."]
    lo, hi = overall["cs95"]
    lines = [
        overall["in_words"] + ".",
        f"  Looked at any day: {100 * lo:.1f} to {100 * hi:.1f} points (always-valid 95 % confidence sequence).",
    ]
    for offer_id, pooled in report["offers"].items():
        if pooled is not None:
            lines.append(f"  offer {offer_id}: " + pooled["in_words"].replace("alerts", "the offer", 1))
    return lines
