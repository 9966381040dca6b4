"""Rotating identifiers resolve within ± one slot, and only for customers with consent."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from edge_agent.core.events import BeaconId
from edge_agent.field.imports import import_customers
from edge_agent.presence.identity import IdentityResolver
from edge_agent.presence.rotating import RotatingIds, rotating_id
from edge_agent.store import connect
from edge_agent.store.customers import SqliteCustomers

LOYALTY = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
KEY = "00112233445566778899aabbccddeeff"


def test_rotating_id_matches_the_spec_formula() -> None:
    digest = hmac.new(bytes.fromhex(KEY), b"edge-agent/rid/v1|5983333", hashlib.sha256).digest()
    assert rotating_id(KEY, 5983333) == (int.from_bytes(digest[0:2], "big"), int.from_bytes(digest[2:4], "big"))
    assert rotating_id(KEY, 5983333) != rotating_id(KEY, 5983334)


def test_resolution_within_one_slot_and_consent_gated(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    customers = tmp_path / "c.json"
    customers.write_text(
        json.dumps(
            [
                {"customer_id": "c-1", "consent": True, "rotating_key": KEY},
                {"customer_id": "c-2", "consent": False, "rotating_key": "ff" * 16},
            ]
        )
    )
    import_customers(conn, customers)
    resolver = IdentityResolver(SqliteCustomers(conn), rotating_uuid=LOYALTY, rotation_s=300)
    resolver.load()
    now = 1_795_000_000.0
    slot = int(now // 300)

    def beacon(key: str, s: int) -> BeaconId:
        major, minor = rotating_id(key, s)
        return BeaconId("ibeacon", f"{LOYALTY}:{major}:{minor}")

    for s in (slot - 1, slot, slot + 1):  # clocks drift: the neighbouring slots are accepted
        assert resolver.key_for(beacon(KEY, s), now) == BeaconId("rotating", "c-1")
    assert resolver.key_for(beacon(KEY, slot + 2), now) == beacon(KEY, slot + 2)  # too far: not linkable
    assert resolver.customer_for(BeaconId("rotating", "c-1")) is not None
    no_consent = beacon("ff" * 16, slot)
    assert resolver.key_for(no_consent, now) == no_consent  # never resolved without consent
    assert resolver.customer_for(no_consent) is None


def test_each_slots_table_is_built_once_while_time_stays_in_it() -> None:
    """Unknown ids under the loyalty UUID look in three slots; none of the three is rebuilt for each."""
    keys = [(row, hashlib.sha256(str(row).encode()).hexdigest()[:32]) for row in range(1, 501)]
    ids = RotatingIds(LOYALTY, 300, keys)
    now = 1_795_000_000.0
    for n in range(200):
        assert ids.resolve(BeaconId("ibeacon", f"{LOYALTY}:{n}:{n}"), now) is None  # 1500 ids in 2**32: no clash
    assert ids.tables_built == 3
    slot = int(now // 300)
    major, minor = rotating_id(keys[41][1], slot + 1)
    assert ids.resolve(BeaconId("ibeacon", f"{LOYALTY}:{major}:{minor}"), now) == 42  # a phone a little ahead
    ids.resolve(BeaconId("ibeacon", f"{LOYALTY}:1:1"), now + 300)  # time moves on one slot: one new table
    assert ids.tables_built == 4
