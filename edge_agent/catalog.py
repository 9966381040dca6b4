"""Importing customers and offers from CSV or JSON, with a per-row report."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .errors import CatalogError, EdgeAgentError
from .profiles import IDENTIFIER_FORMATS
from .store import catalog as table

T = TypeVar("T", bound=BaseModel)


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    return value


def _none_if_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


SemiList = Annotated[list[str], BeforeValidator(_split)]
Blank = BeforeValidator(_none_if_blank)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerRow(_Row):
    customer_id: Annotated[str, Field(min_length=1, max_length=128)]
    display_name: str = ""
    tier: Literal["bronze", "silver", "gold", "platinum"] = "bronze"
    consent: bool = False
    ibeacon: SemiList = []
    eddystone: SemiList = []
    altbeacon: SemiList = []
    rotating_key: Annotated[str | None, Blank, Field(pattern=r"^[0-9a-fA-F]{32,128}$")] = None
    preferred_categories: SemiList = []
    visits_90d: Annotated[int, Blank, Field(ge=0)] = 0
    spend_90d: Annotated[float, Blank, Field(ge=0)] = 0.0

    @field_validator("ibeacon")
    @classmethod
    def _ibeacons(cls, values: list[str]) -> list[str]:
        return [_identifier("ibeacon", v) for v in values]

    @field_validator("eddystone")
    @classmethod
    def _eddystones(cls, values: list[str]) -> list[str]:
        return [_identifier("eddystone", v) for v in values]

    @field_validator("altbeacon")
    @classmethod
    def _altbeacons(cls, values: list[str]) -> list[str]:
        return [_identifier("altbeacon", v) for v in values]


def _identifier(kind: str, value: str) -> str:
    pattern, expected = IDENTIFIER_FORMATS[kind]
    if not pattern.match(value):
        raise ValueError(f"{value!r} is not {expected}")
    if kind == "ibeacon":
        uuid, major, minor = value.split(":")
        if int(major) > 0xFFFF or int(minor) > 0xFFFF:
            raise ValueError(f"{value!r}: major and minor must be 0..65535")
        return f"{uuid.lower()}:{int(major)}:{int(minor)}"
    return value.lower()


class OfferRow(_Row):
    offer_id: Annotated[str, Field(min_length=1, max_length=128)]
    title: Annotated[str, Field(min_length=1)]
    category: str = ""
    kind: Literal["discount", "accessory", "service", "event"] = "discount"
    min_tier: Literal["bronze", "silver", "gold", "platinum"] = "bronze"
    starts: Annotated[date | None, Blank] = None
    ends: Annotated[date | None, Blank] = None
    in_stock: bool = True
    skus: SemiList = []
    value: str = ""


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A CSV file with a header row, or a JSON list of objects."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read ({exc})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise CatalogError(f"{path}: expected a JSON list of objects")
        return data
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    if reader.fieldnames is None:
        raise CatalogError(f"{path}: empty file (expected a header row)")
    return rows


def validate_rows(path: Path, rows: list[dict[str, Any]], model: type[T], *, strict: bool) -> tuple[list[T], list[str]]:
    """Unknown columns fail the whole file; bad rows are reported by number (first data row is 1)."""
    known = set(model.model_fields)
    for row in rows:
        unknown = sorted(set(row) - known)
        if unknown:
            raise CatalogError(f"{path}: unknown column {unknown[0]!r} (expected: {', '.join(model.model_fields)})")
    good: list[T] = []
    errors: list[str] = []
    for number, row in enumerate(rows, start=1):
        try:
            good.append(model.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            col = ".".join(str(p) for p in err["loc"]) or "row"
            errors.append(f"row {number}: {col}: {err['msg'].removeprefix('Value error, ')}")
    if strict and errors:
        raise CatalogError(f"{path}: {len(errors)} bad row(s), nothing imported (--strict); first: {errors[0]}")
    return good, errors


def import_customers(
    conn: sqlite3.Connection, path: Path, *, strict: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    rows, errors = validate_rows(path, read_rows(path), CustomerRow, strict=strict)
    report = ImportReport(errors=errors)
    now = time.time()
    with table.transaction(conn):
        for chunk in _chunks(rows, 200):
            for c in chunk:
                _store_customer(conn, c, now, report)
            if progress is not None:
                progress(len(chunk))
    return report


def _store_customer(conn: sqlite3.Connection, c: CustomerRow, now: float, report: ImportReport) -> None:
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
    for kind, values in (("ibeacon", c.ibeacon), ("eddystone", c.eddystone), ("altbeacon", c.altbeacon)):
        for value in values:
            if table.identifier_owner(conn, kind, value) is not None:
                report.errors.append(f"{c.customer_id}: {kind} {value} already belongs to another customer; skipped")
                continue
            table.add_identifier(conn, kind, value, c.customer_id)
    report.imported += 1


def import_offers(
    conn: sqlite3.Connection, path: Path, *, strict: bool = False, progress: Callable[[int], None] | None = None
) -> ImportReport:
    rows, errors = validate_rows(path, read_rows(path), OfferRow, strict=strict)
    report = ImportReport(errors=errors)
    with table.transaction(conn):
        for chunk in _chunks(rows, 200):
            for o in chunk:
                table.upsert_offer(
                    conn,
                    (
                        o.offer_id,
                        o.title,
                        o.category,
                        o.kind,
                        o.min_tier,
                        int(o.in_stock),
                        o.skus,
                        o.value,
                        o.starts.isoformat() if o.starts else None,
                        o.ends.isoformat() if o.ends else None,
                    ),
                )
                report.imported += 1
            if progress is not None:
                progress(len(chunk))
    return report


def forget_customer(conn: sqlite3.Connection, customer_id: str) -> dict[str, int]:
    """Erase a customer and every row that names them; returns rows deleted per table."""
    counts = table.forget(conn, customer_id)
    if counts["customers"] == 0:
        raise EdgeAgentError(f"no customer {customer_id!r}")
    return counts


def _chunks(rows: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
