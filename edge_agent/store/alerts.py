"""What the web API asks of stored alerts: which exist, and what staff already did with them."""

from __future__ import annotations

import sqlite3

from . import rows


class StoredAlerts:
    """Read-only answers about alerts committed by the writer, on the reader the caller lends."""

    def __init__(self, reader: sqlite3.Connection) -> None:
        self._reader = reader

    def exists(self, alert_id: str) -> bool:
        return rows.alert_exists(self._reader, alert_id)

    def actions(self, alert_ids: list[str]) -> dict[str, str]:
        """alert_id -> the action staff took, for those of `alert_ids` that have one."""
        return rows.stored_actions(self._reader, alert_ids)
