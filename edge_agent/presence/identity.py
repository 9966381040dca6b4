"""Consent-gated identity: beacon identifiers to known customers, everyone else anonymous.

Looked up through `Customers` (in SQLite: by the identifiers' primary key) with a bounded cache in front, so that a
million-customer CRM costs disk, not memory; rotating identifiers are resolved from a compact
table of this slot's ids (`RotatingIds`). `load()` after any catalog change empties the cache.
"""

from __future__ import annotations

import time

from ..core.cache import Bounded
from ..core.events import BeaconId, Customer
from ..store.customers import Customers
from .rotating import RotatingIds

CACHE_SIZE = 4096  # the people in and around the store today, many times over
_MISSING = object()


class IdentityResolver:
    """Maps beacon identifiers to consenting customers."""

    def __init__(
        self,
        customers: Customers,
        *,
        rotating_uuid: str | None = None,
        rotation_s: int = 300,
        cache: int = CACHE_SIZE,
    ) -> None:
        self._customers = customers
        self._rotating_uuid = rotating_uuid
        self._rotation_s = rotation_s
        self._rotating: RotatingIds | None = None
        # Misses are kept too ("nobody": passers-by), so a crowd of strangers costs no queries.
        self._by_beacon: Bounded[BeaconId, Customer | None] = Bounded(cache)
        self._by_id: Bounded[str, Customer | None] = Bounded(cache)

    def load(self) -> None:
        """Forget what was looked up (consent, identifiers or keys may have changed)."""
        self._by_beacon.clear()
        self._by_id.clear()
        if self._rotating_uuid:
            rotating = RotatingIds(self._rotating_uuid, self._rotation_s, self._customers.rotating_keys())
            self._rotating = rotating if len(rotating) else None
            if self._rotating is not None:
                # Built now, not on the first advert: a customer walking in must not wait for them.
                self._rotating.warm(time.time())

    def key_for(self, beacon: BeaconId, ts: float) -> BeaconId:
        """What presence tracks for this beacon: its customer when the identifier rotates."""
        if self._rotating is not None and beacon.kind == "ibeacon":
            row = self._rotating.resolve(beacon, ts)
            customer = self._customers.by_row(row) if row is not None else None
            if customer is not None:
                return BeaconId("rotating", customer.customer_id)
        return beacon

    def customer_for(self, beacon: BeaconId) -> Customer | None:
        if beacon.kind in ("checkin", "rotating"):  # already resolved to a customer id
            return self.customer_by_id(beacon.value)
        known = self._by_beacon.get(beacon, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        found = self._customers.by_beacon(beacon.kind, beacon.value)
        self._by_beacon[beacon] = found
        return found

    def may_recognise(self, customer_id: str) -> bool:
        """Whether this customer may be recognised now (known and consenting)."""
        return self.customer_by_id(customer_id) is not None

    def customer_by_id(self, customer_id: str | None) -> Customer | None:
        """A consenting customer by id (e.g. a loyalty id scanned at a mirror)."""
        if not customer_id:
            return None
        known = self._by_id.get(customer_id, _MISSING)
        if known is not _MISSING:
            return known  # type: ignore[return-value]
        found = self._by_id[customer_id] = self._customers.by_id(customer_id)
        return found
