"""The rows of the import formats (docs/interface.md § Import files): offers and products as
`edge-agent offer|product import` and the cloud's offer catalog (the downlink) both validate them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..core.errors import CatalogError

Raw = dict[str | None, Any]


def split_cell(value: Any) -> Any:
    """`a; b; c` in one CSV cell → a list."""
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    return value


def _none_if_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _decimal_comma(value: Any) -> Any:
    """`640,5` as European spreadsheets write it (only with no other separator, so `1,234` is refused)."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d{1,2}\s*", value):
        return value.replace(",", ".")
    return value


SemiList = Annotated[list[str], BeforeValidator(split_cell)]
Blank = BeforeValidator(_none_if_blank)
Amount = Annotated[float, BeforeValidator(_decimal_comma), Field(ge=0)]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OfferRow(Row):
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


class ProductRow(Row):
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    title: str = ""
    category: str = ""
    price: Annotated[float | None, BeforeValidator(_decimal_comma), Field(ge=0)] = None
    accessory_of: SemiList = []


def cells(row: Raw, columns: Sequence[str]) -> dict[str, Any]:
    """An empty cell or a JSON null means absent (the column's default); extra cells are an error."""
    if None in row:
        raise ValueError(f"row has {len(row[None])} more cell(s) than the header has columns")
    return {
        str(k): v
        for k, v in row.items()
        if k in columns and v is not None and not (isinstance(v, str) and not v.strip())
    }


def reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        col = ".".join(str(p) for p in err["loc"]) or "row"
        return f"{col}: {err['msg'].removeprefix('Value error, ')}"
    return str(exc)


def offer_values(o: OfferRow) -> tuple[Any, ...]:
    """An offer row in the store's column order."""
    return (
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
    )


def validated_offers(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Offer objects (e.g. from a downlink document) validated like an import with --strict."""
    out: list[tuple[Any, ...]] = []
    columns = list(OfferRow.model_fields)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise CatalogError(f"row {number}: expected an object")
        unknown = sorted(str(k) for k in row if k not in OfferRow.model_fields)
        if unknown:
            raise CatalogError(f"unknown column {unknown[0]!r} (expected: {', '.join(columns)})")
        try:
            out.append(offer_values(OfferRow.model_validate(cells(row, columns))))
        except (ValidationError, ValueError) as exc:
            raise CatalogError(f"bad row, nothing imported; row {number}: {reason(exc)}") from None
    return out
