"""Identities are looked up in SQLite behind a bounded cache: a chain's CRM costs disk, not
memory, and a withdrawal or an erasure is seen at the next lookup after the catalog changes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from edge_agent.core.events import BeaconId
from edge_agent.field.imports import import_customers
from edge_agent.presence.identity import IdentityResolver
from edge_agent.presence.rotating import rotating_id
from edge_agent.store import connect
from edge_agent.store.customers import SqliteCustomers

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
LOYALTY = "e2c56db5-dffb-48d2-b060-d0f5a71096e0"


def crm(tmp_path: Path, n: int) -> tuple[Path, dict[str, str]]:
    keys = {f"c-{i:04d}": secrets.token_hex(16) for i in range(n)}
    rows = [
        {"customer_id": cid, "consent": i % 7 != 0, "ibeacon": f"{UUID}:1:{i}", "rotating_key": keys[cid]}
        for i, cid in enumerate(keys)
    ]
    (tmp_path / "c.json").write_text(json.dumps(rows))
    db = tmp_path / "a.db"
    with connect(db) as conn:
        assert import_customers(conn, tmp_path / "c.json").ok
    return db, keys


def test_every_customer_is_found_through_a_cache_far_smaller_than_the_crm(tmp_path: Path) -> None:
    db, _ = crm(tmp_path, 600)
    resolver = IdentityResolver(SqliteCustomers(connect(db)), cache=16)
    resolver.load()
    for _ in range(2):  # the second pass finds nothing in the cache it needs: all from SQLite again
        for i in range(600):
            found = resolver.customer_for(BeaconId("ibeacon", f"{UUID}:1:{i}"))
            assert (found is not None) == (i % 7 != 0)  # no consent, never recognised
            assert found is None or found.customer_id == f"c-{i:04d}"
    assert resolver.customer_for(BeaconId("ibeacon", f"{UUID}:1:9999")) is None  # a passer-by


def test_a_withdrawal_is_seen_once_the_catalog_changed(tmp_path: Path) -> None:
    db, _ = crm(tmp_path, 10)
    conn = connect(db)
    resolver = IdentityResolver(SqliteCustomers(conn))
    resolver.load()
    assert resolver.customer_by_id("c-0001") is not None and resolver.may_recognise("c-0001")
    with conn:
        conn.execute("UPDATE customers SET consent = 0 WHERE customer_id = 'c-0001'")
    resolver.load()  # what the pipeline does when the catalog version moves
    assert resolver.customer_by_id("c-0001") is None and not resolver.may_recognise("c-0001")
    assert resolver.customer_for(BeaconId("ibeacon", f"{UUID}:1:1")) is None


def test_rotating_ids_of_many_customers_resolve_in_their_slot(tmp_path: Path) -> None:
    db, keys = crm(tmp_path, 700)
    resolver = IdentityResolver(SqliteCustomers(connect(db)), rotating_uuid=LOYALTY, rotation_s=300)
    resolver.load()
    now = 1_795_000_000.0
    slot = int(now // 300)
    for i, (cid, key) in enumerate(keys.items()):
        major, minor = rotating_id(key, slot + (i % 3) - 1)
        resolved = resolver.key_for(BeaconId("ibeacon", f"{LOYALTY}:{major}:{minor}"), now)
        assert resolved == (
            BeaconId("rotating", cid) if i % 7 != 0 else BeaconId("ibeacon", f"{LOYALTY}:{major}:{minor}")
        )
