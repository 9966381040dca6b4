"""Consenting customers as the presence layer asks for them: by id, by beacon identifier, by the
row a rotating identifier resolves to. The SQLite implementation reads the CRM tables; the
in-memory one beside it serves tests and benchmarks with the same answers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ..core.events import Customer
from . import rows


class Customers(Protocol):
    """Who may be recognised: only consenting customers are ever returned."""

    def by_id(self, customer_id: str) -> Customer | None: ...

    def by_beacon(self, kind: str, value: str) -> Customer | None: ...

    def by_row(self, row: int) -> Customer | None: ...

    def rotating_keys(self) -> Iterator[tuple[int, str]]:
        """(row, hex key) of every consenting customer with a rotating identifier."""
        ...


def _customer(row: tuple[Any, ...] | None) -> Customer | None:
    if row is None:
        return None
    cid, name, tier, cats, visits, spend = row
    return Customer(cid, name, tier, True, tuple(json.loads(cats)), visits, spend)


class SqliteCustomers:
    """The CRM tables, each lookup one primary-key read (a million customers cost disk, not memory)."""

    def __init__(self, reader: sqlite3.Connection) -> None:
        self._reader = reader

    def by_id(self, customer_id: str) -> Customer | None:
        return _customer(rows.consenting_customer(self._reader, customer_id))

    def by_beacon(self, kind: str, value: str) -> Customer | None:
        return _customer(rows.consenting_customer_by_beacon(self._reader, kind, value))

    def by_row(self, row: int) -> Customer | None:
        return _customer(rows.consenting_customer_by_row(self._reader, row))

    def rotating_keys(self) -> Iterator[tuple[int, str]]:
        return rows.rotating_keys(self._reader)


class MemoryCustomers:
    """The same answers from a list (`consent` respected), for tests and benchmarks."""

    def __init__(self, customers: Iterable[tuple[Customer, Iterable[tuple[str, str]], str | None]] = ()) -> None:
        """`customers`: (customer, its (kind, value) beacon identifiers, its rotating key or None)."""
        self._rows: list[tuple[Customer, str | None]] = []
        self._beacons: dict[tuple[str, str], int] = {}
        for customer, identifiers, key in customers:
            self._rows.append((customer, key))
            for identifier in identifiers:
                self._beacons[identifier] = len(self._rows)

    def _consenting(self, row: int | None) -> Customer | None:
        if row is None or not 1 <= row <= len(self._rows):
            return None
        customer = self._rows[row - 1][0]
        return customer if customer.consent else None

    def by_id(self, customer_id: str) -> Customer | None:
        row = next((i for i, (c, _) in enumerate(self._rows, 1) if c.customer_id == customer_id), None)
        return self._consenting(row)

    def by_beacon(self, kind: str, value: str) -> Customer | None:
        return self._consenting(self._beacons.get((kind, value)))

    def by_row(self, row: int) -> Customer | None:
        return self._consenting(row)

    def rotating_keys(self) -> Iterator[tuple[int, str]]:
        for row, (customer, key) in enumerate(self._rows, 1):
            if customer.consent and key:
                yield row, key
