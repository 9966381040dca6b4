"""Local storage: SQLite in WAL mode, one batching writer."""

from .db import connect, migrate, open_db
from .schema import SCHEMA_VERSION
from .writer import StoreWriter, Write

__all__ = ["SCHEMA_VERSION", "StoreWriter", "Write", "connect", "migrate", "open_db"]
