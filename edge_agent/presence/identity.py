"""Consent-gated identity: beacon identifiers to known customers, everyone else anonymous."""

from __future__ import annotations

import json
import sqlite3

from ..core.events import BeaconId, Customer
from ..store import rows
from .rotating import RotatingIds


class IdentityResolver:
    """Maps beacon identifiers to consenting customers; reloads when the database changes."""

    def __init__(self, conn: sqlite3.Connection, *, rotating_uuid: str | None = None, rotation_s: int = 300) -> None:
        self._conn = conn
        self._rotating_uuid = rotating_uuid
        self._rotation_s = rotation_s
        self._rotating: RotatingIds | None = None
        self._by_beacon: dict[BeaconId, Customer] = {}
        self._by_id: dict[str, Customer] = {}

    def load(self) -> None:
        """(Re)load consenting customers and their beacon identifiers."""
        customers = rows.consenting_customers(self._conn)
        self._by_id = {
            cid: Customer(cid, name, tier, True, tuple(json.loads(cats)), visits, spend, rkey)
            for cid, name, tier, cats, visits, spend, rkey in customers
        }
        identifiers = rows.beacon_identifiers(self._conn)
        self._by_beacon = {
            BeaconId(kind, value): self._by_id[cid] for kind, value, cid in identifiers if cid in self._by_id
        }
        keys = {c.customer_id: c.rotating_key for c in self._by_id.values() if c.rotating_key}
        self._rotating = (
            RotatingIds(self._rotating_uuid, self._rotation_s, keys) if self._rotating_uuid and keys else None
        )

    def key_for(self, beacon: BeaconId, ts: float) -> BeaconId:
        """What presence tracks for this beacon: its customer when the identifier rotates."""
        if self._rotating is not None and beacon.kind == "ibeacon":
            customer_id = self._rotating.resolve(beacon, ts)
            if customer_id is not None:
                return BeaconId("rotating", customer_id)
        return beacon

    def customer_for(self, beacon: BeaconId) -> Customer | None:
        if beacon.kind in ("checkin", "rotating"):  # already resolved to a customer id
            return self._by_id.get(beacon.value)
        return self._by_beacon.get(beacon)

    @property
    def customer_ids(self) -> frozenset[str]:
        """Every customer that may be recognised now (consenting)."""
        return frozenset(self._by_id)

    def customer_by_id(self, customer_id: str | None) -> Customer | None:
        """A consenting customer by id (e.g. a loyalty id scanned at a mirror)."""
        return self._by_id.get(customer_id) if customer_id else None
