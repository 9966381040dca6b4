"""The devices table."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from ..core.events import Device
from .db import connect

COLUMNS = "id, profile, transport, zone, port, topic, identifier, settings, auto_registered, created_at"

DeviceRow = tuple[str, str, str, str | None, str | None, str | None, str | None, dict[str, Any], bool, float]


def _decode(row: tuple[Any, ...]) -> DeviceRow:
    did, profile, transport, zone, port, topic, identifier, settings, auto, created = row
    return (did, profile, transport, zone, port, topic, identifier, json.loads(settings), bool(auto), created)


def insert(conn: sqlite3.Connection, row: DeviceRow) -> None:
    *head, settings, auto, created = row
    conn.execute(
        f"INSERT INTO devices({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*head, json.dumps(settings), int(auto), created),
    )


def get(conn: sqlite3.Connection, device_id: str) -> DeviceRow | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM devices WHERE id = ?", (device_id,)).fetchone()
    return _decode(row) if row else None


def all_rows(conn: sqlite3.Connection) -> list[DeviceRow]:
    return [_decode(r) for r in conn.execute(f"SELECT {COLUMNS} FROM devices ORDER BY id")]


def owner_of_identifier(conn: sqlite3.Connection, identifier: str) -> str | None:
    row = conn.execute("SELECT id FROM devices WHERE identifier = ?", (identifier,)).fetchone()
    return None if row is None else str(row[0])


def delete(conn: sqlite3.Connection, device_id: str) -> None:
    conn.execute("DELETE FROM devices WHERE id = ?", (device_id,))


def get_device(conn: sqlite3.Connection, device_id: str) -> Device | None:
    row = get(conn, device_id)
    return Device(*row) if row else None


def list_devices(conn: sqlite3.Connection) -> list[Device]:
    return [Device(*r) for r in all_rows(conn)]


def registered_devices(path: Path) -> list[Device]:
    """The device registry as it stands, read once (e.g. to decide which sources to start)."""
    with closing(connect(path)) as conn:
        return list_devices(conn)
