"""`edge-agent customer import|list|show|forget|consent`, `offer import|list`, `product import|list`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from ..config.agent import AgentConfig
from ..core.errors import EdgeAgentError
from ..field.imports import ImportReport, count_rows, forget_customer, import_customers, import_offers, import_products
from ..runtime.control import query_status
from ..store import catalog as catalog_table
from ..store import outcomes, social
from .common import (
    ConfigOpt,
    JsonOpt,
    cells,
    console,
    data_table,
    err_console,
    get_config,
    group,
    open_store,
    print_json,
)

customers = group("Known customers (pseudonymous, consent-gated).")
offers = group("The store's offer catalog.")
products = group("The product catalog (SKU → title, category, what it accessorises).")

FileArg = Annotated[Path, typer.Argument(help="CSV with a header row, or a JSON list of objects.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Fail the whole import on any bad row.")]

Importer = Callable[..., ImportReport]


def _run_import(cfg: AgentConfig, file: Path, importer: Importer, strict: bool, as_json: bool, what: str) -> None:
    total = count_rows(file)
    with open_store(cfg) as conn, Progress(console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"importing {what}", total=total)
        report = importer(conn, file, strict=strict, progress=lambda n: progress.advance(task, n))
    if as_json:
        print_json({"imported": report.imported, "errors": report.errors, "notes": report.notes})
    else:
        typer.echo(f"imported {report.imported} {what}; {len(report.errors)} problem(s)")
        for error in report.errors:
            err_console.print(f"  {error}", highlight=False, markup=False)
        for note in report.notes:
            err_console.print(f"  note: {note}", highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


@customers.command("import")
def customer_import(
    file: FileArg, strict: StrictOpt = False, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Import or update customers (idempotent upsert by customer_id)."""
    _run_import(get_config(config), file, import_customers, strict, as_json, "customers")


@customers.command("list")
def customer_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List customers with their consent and identifiers."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        data = catalog_table.customers_summary(conn)
    if as_json:
        print_json(data)
        return
    table = data_table("customer_id", "name", "tier", "consent", "visits 90d", "identifiers")
    for d in data:
        table.add_row(
            *cells(
                d["customer_id"],
                d["display_name"],
                d["tier"],
                "yes" if d["consent"] else "no",
                str(d["visits_90d"]),
                str(d["identifiers"]),
            )
        )
    console.print(table)


@customers.command("forget")
def customer_forget(
    customer_id: Annotated[str, typer.Argument(metavar="ID")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer and every row that names them (asks first unless --yes)."""
    cfg = get_config(config)
    if not yes and not typer.confirm(f"Erase {customer_id} and everything the box holds about them?", default=False):
        raise typer.Abort()
    with open_store(cfg) as conn:
        counts = forget_customer(conn, customer_id)
    if as_json:
        print_json({"customer_id": customer_id, "deleted": counts})
    else:
        typer.echo(f"forgot {customer_id}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@offers.command("import")
def offer_import(file: FileArg, strict: StrictOpt = False, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Import or replace offers by offer_id."""
    _run_import(get_config(config), file, import_offers, strict, as_json, "offers")


@offers.command("list")
def offer_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List the offer catalog."""
    cfg = get_config(config)
    with open_store(cfg) as conn:
        data = catalog_table.offers(conn)
    if as_json:
        print_json(data)
        return
    table = data_table("offer_id", "title", "category", "kind", "min tier", "in stock")
    for d in data:
        table.add_row(
            *cells(d["offer_id"], d["title"], d["category"], d["kind"], d["min_tier"], "yes" if d["in_stock"] else "no")
        )
    console.print(table)


@products.command("import")
def product_import(
    file: FileArg, strict: StrictOpt = False, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Import or update products (sku, title, category, price, accessory_of)."""
    _run_import(get_config(config), file, import_products, strict, as_json, "products")


@products.command("list")
def product_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List the product catalog."""
    with open_store(get_config(config)) as conn:
        data = catalog_table.products(conn)
    if as_json:
        print_json(data)
        return
    table = data_table("sku", "title", "category", "price", "accessory of")
    for d in data:
        price = "" if d["price"] is None else f"{d['price']:.2f}"
        table.add_row(*cells(d["sku"], d["title"], d["category"], price, ", ".join(d["accessory_of"])))
    console.print(table)


@customers.command("show")
def customer_show(customer_id: str, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Everything the box holds about one customer (a subject-access export)."""
    with open_store(get_config(config)) as conn:
        row = catalog_table.customer(conn, customer_id)
        if row is None:
            raise EdgeAgentError(f"no customer {customer_id!r} (see `edge-agent customer list`)")
        data = {
            "customer": row,
            **outcomes.export_customer(conn, customer_id),
            "friends": social.friends_of(conn, customer_id),  # remembered friends: pseudonyms and weights
        }
    if as_json:
        print_json(data)
        return
    console.print_json(json.dumps(data, default=str))


@customers.command("consent")
def customer_consent(
    customer_id: str,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Withdraw consent: erase what was learned.")] = False,
    give: Annotated[bool, typer.Option("--give", help="Give consent (again).")] = False,
    config: ConfigOpt = None,
) -> None:
    """Give or withdraw a customer's consent; withdrawal erases their learned profile and visit history."""
    if withdraw == give:
        raise typer.BadParameter("say --withdraw or --give")
    cfg = get_config(config)
    with open_store(cfg) as conn:
        if catalog_table.customer(conn, customer_id) is None:
            if give and catalog_table.lift_suppression(conn, customer_id):
                typer.echo(f"{customer_id} may be imported again (the box had forgotten them)")
                return
            raise EdgeAgentError(f"no customer {customer_id!r} (see `edge-agent customer list`)")
        catalog_table.change_consent(conn, customer_id, give)
    refreshed = query_status(cfg.socket_path, command="refresh") is not None
    where = "the running agent applied it at once" if refreshed else "the agent picks it up when it starts"
    typer.echo(f"consent {'given' if give else 'withdrawn'} for {customer_id}; {where}")
