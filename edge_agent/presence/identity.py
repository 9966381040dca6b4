"""Consent-gated identity: beacon identifiers to known customers, everyone else anonymous."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time

from ..model import BeaconId, Customer


class IdentityResolver:
    """Maps beacon identifiers to consenting customers; reloads when the database changes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._by_beacon: dict[BeaconId, Customer] = {}
        # Anonymous visitors are hashed with a daily salt that never leaves memory.
        self._day = -1
        self._daily_salt = b""

    def load(self) -> None:
        """(Re)load the consenting customers' identifiers."""
        rows = self._conn.execute(
            """SELECT i.kind, i.value, c.customer_id, c.display_name, c.tier, c.consent,
                      c.preferred_categories, c.visits_90d, c.spend_90d, c.rotating_key
               FROM customer_identifiers i JOIN customers c USING (customer_id)
               WHERE c.consent = 1"""
        ).fetchall()
        self._by_beacon = {
            BeaconId(kind, value): Customer(
                customer_id=cid,
                display_name=name,
                tier=tier,
                consent=bool(consent),
                preferred_categories=tuple(json.loads(cats)),
                visits_90d=visits,
                spend_90d=spend,
                rotating_key=rkey,
            )
            for kind, value, cid, name, tier, consent, cats, visits, spend, rkey in rows
        }

    def customer_for(self, beacon: BeaconId) -> Customer | None:
        return self._by_beacon.get(beacon)

    def anonymous_key(self, beacon: BeaconId, now: float | None = None) -> str:
        """A salted hash for counting an unknown visitor; unlinkable across days."""
        day = int((now or time.time()) // 86400)
        if day != self._day:
            self._day = day
            self._daily_salt = secrets.token_bytes(16)
        return hmac.new(self._daily_salt, str(beacon).encode(), hashlib.sha256).hexdigest()[:16]
