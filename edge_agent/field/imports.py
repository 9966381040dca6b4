"""Importing customers and offers from CSV or JSON, with a per-row report."""

from __future__ import annotations

import csv
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, create_model

from .. import beacons
from ..config.rows import (
    Amount,
    Blank,
    OfferRow,
    ProductRow,
    Raw,
    Row,
    SemiList,
    cells,
    offer_values,
    reason,
    split_cell,
)
from ..core.errors import CatalogError, EdgeAgentError
from ..store import Database, suppression
from ..store import catalog as table

T = TypeVar("T", bound=BaseModel)
_cells = cells
_reason = reason


class CustomerFields(Row):
    """A customer row; `customer_model()` adds one identifier column per beacon format."""

    customer_id: Annotated[str, Field(min_length=1, max_length=128)]
    display_name: str = ""
    tier: Literal["bronze", "silver", "gold", "platinum"] = "bronze"
    consent: bool = False
    rotating_key: Annotated[str | None, Blank, Field(pattern=r"^[0-9a-fA-F]{32,128}$")] = None
    preferred_categories: SemiList = Field(default_factory=list)
    visits_90d: Annotated[int, Blank, Field(ge=0)] = 0
    spend_90d: Amount = 0.0

    def identifiers(self) -> list[tuple[str, str]]:
        """(beacon format, canonical identifier) of every identifier column."""
        return [(kind, value) for kind in beacons.kinds() for value in getattr(self, kind, ())]


def _identifiers(kind: str) -> Any:
    def check(values: list[str]) -> list[str]:
        fmt = beacons.get(kind)
        return [fmt.check(v) for v in values]

    return Annotated[list[str], BeforeValidator(split_cell), AfterValidator(check)]


@functools.cache
def _customer_model(kinds: tuple[str, ...]) -> type[CustomerFields]:
    fields: dict[str, Any] = {kind: (_identifiers(kind), []) for kind in kinds}
    return create_model("CustomerRow", __base__=CustomerFields, **fields)


def customer_model() -> type[CustomerFields]:
    """The customer row with a `;`-separated identifier column for each registered beacon format."""
    return _customer_model(beacons.kinds())


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # rows imported differently than written, and why
    row: int = 0  # the row being stored

    @property
    def ok(self) -> bool:
        return not self.errors


MAX_FIELD = 64 * 1024
CHUNK = 500
BATCH_ROWS = 10_000  # rows per transaction: a running agent's writer waits at most one batch


def read_rows(path: Path) -> Iterator[tuple[int, Raw]]:
    """(row number, cells) from a CSV file with a header row or a JSON list of objects.

    CSV as CRM and spreadsheet exports write it: UTF-8 with or without a BOM, CRLF or LF, `,`
    or `;` (sniffed from the header), quoted fields. Streamed: a 100 000-row file is never held
    in memory. Any other encoding is refused with one line.
    """
    try:
        head = path.open("rb").read(4096)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".json" or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        yield from enumerate(_json_rows(path), start=1)
        return
    yield from _csv_rows(path)


def _refuse_encoding(path: Path) -> CatalogError:
    return CatalogError(f"{path}: not UTF-8 text; save it as UTF-8 (in Excel: 'CSV UTF-8') and import again")


def _json_rows(path: Path) -> list[Raw]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise _refuse_encoding(path) from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise CatalogError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CatalogError(f"{path}: expected a JSON list of objects")
    return data


def _csv_rows(path: Path) -> Iterator[tuple[int, Raw]]:
    csv.field_size_limit(MAX_FIELD)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header_line = handle.readline()
            if not header_line.strip():
                raise CatalogError(f"{path}: empty file (expected a header row)")
            delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
            header = next(csv.reader([header_line], delimiter=delimiter))
            reader = csv.DictReader(handle, fieldnames=[h.strip() for h in header], delimiter=delimiter)
            yield from enumerate(reader, start=1)
    except UnicodeDecodeError:
        raise _refuse_encoding(path) from None
    except csv.Error as exc:
        raise CatalogError(f"{path}: not a CSV file the importer can read ({exc})") from None


def _check_columns(path: Path, row: Raw, model: type[BaseModel]) -> None:
    unknown = sorted(str(k) for k in row if k is not None and k not in model.model_fields)
    if unknown:
        raise CatalogError(f"{path}: unknown column {unknown[0]!r} (expected: {', '.join(model.model_fields)})")


def count_rows(path: Path) -> int:
    """Rows in the file (for a progress bar), streamed like the import itself."""
    return sum(1 for _ in read_rows(path))


def import_file(
    conn: Database,
    path: Path,
    model: type[T],
    store: Callable[[Database, T, ImportReport], None],
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and store row by row, committing every BATCH_ROWS rows so that a running agent
    can write between them (a million-row CRM export holds the database for minutes otherwise);
    bad rows are reported by number. The columns, and with `strict` every row, are checked in a
    first pass, so that a file refused is a file of which nothing was imported."""
    report = ImportReport()
    columns = list(model.model_fields)
    _first_pass(path, model, columns, strict)
    done = 0
    with table.transaction(conn):
        for number, row in read_rows(path):
            try:
                record = model.model_validate(_cells(row, columns))
            except (ValidationError, ValueError) as exc:
                report.errors.append(f"row {number}: {_reason(exc)}")
                continue
            report.row = number
            store(conn, record, report)
            done += 1
            if done % BATCH_ROWS == 0:
                table.checkpoint(conn)
            if progress is not None and done % CHUNK == 0:
                progress(CHUNK)
    if progress is not None:
        progress(done % CHUNK)
    return report


def _first_pass(path: Path, model: type[T], columns: list[str], strict: bool) -> None:
    for number, row in read_rows(path):
        _check_columns(path, row, model)
        if strict:
            try:
                model.model_validate(_cells(row, columns))
            except (ValidationError, ValueError) as exc:
                raise CatalogError(
                    f"{path}: bad row, nothing imported (--strict); row {number}: {_reason(exc)}"
                ) from None


def import_customers(
    conn: Database, path: Path, *, strict: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    now = time.time()
    return import_file(
        conn,
        path,
        customer_model(),
        lambda c, row, report: _store_customer(c, row, now, report),
        strict=strict,
        progress=progress,
    )


def _store_customer(conn: Database, c: CustomerFields, now: float, report: ImportReport) -> None:
    held = suppression.suppressed(conn, c.customer_id)
    if held is not None:
        reason, at = held
        when = datetime.fromtimestamp(at).date().isoformat()
        if reason == "forgotten":
            report.notes.append(f"row {report.row}: {c.customer_id} was forgotten on the box on {when}; not re-created")
            return
        if c.consent:
            note = f"row {report.row}: {c.customer_id}: consent withdrawn on the box on {when}; kept withdrawn"
            report.notes.append(note)
            c = c.model_copy(update={"consent": False})
    table.upsert_customer(
        conn,
        (
            c.customer_id,
            c.display_name,
            c.tier,
            int(c.consent),
            c.rotating_key,
            json.dumps(c.preferred_categories),
            c.visits_90d,
            c.spend_90d,
            now,
        ),
    )
    for kind, value in c.identifiers():
        if table.identifier_owner(conn, kind, value) is not None:
            report.errors.append(f"{c.customer_id}: {kind} {value} already belongs to another customer; skipped")
            continue
        table.add_identifier(conn, kind, value, c.customer_id)
    report.imported += 1


def import_offers(
    conn: Database, path: Path, *, strict: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    return import_file(conn, path, OfferRow, _store_offer, strict=strict, progress=progress)


def _store_offer(conn: Database, o: OfferRow, report: ImportReport) -> None:
    table.upsert_offer(conn, offer_values(o))
    report.imported += 1


def import_products(
    conn: Database, path: Path, *, strict: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    return import_file(conn, path, ProductRow, _store_product, strict=strict, progress=progress)


def _store_product(conn: Database, p: ProductRow, report: ImportReport) -> None:
    table.upsert_product(conn, (p.sku, p.title, p.category, p.price, p.accessory_of))
    report.imported += 1


def forget_customer(conn: Database, customer_id: str) -> dict[str, int]:
    """Erase a customer and every row that names them; returns rows deleted per table."""
    counts = table.forget(conn, customer_id)
    if counts["customers"] == 0:
        raise EdgeAgentError(f"no customer {customer_id!r}")
    return counts
