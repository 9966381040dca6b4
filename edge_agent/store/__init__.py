"""Local storage: SQLite in WAL mode, one batching writer that commits each input's effects."""

from .db import Database, DatabaseError, connect, migrate, open_db
from .effects import Count, Effects, Operation, Sample, Visitor, labels_of
from .rows import Write
from .schema import SCHEMA_VERSION
from .writer import StoreWriter

__all__ = [
    "SCHEMA_VERSION",
    "Count",
    "Database",
    "DatabaseError",
    "Effects",
    "Operation",
    "Sample",
    "StoreWriter",
    "Visitor",
    "Write",
    "connect",
    "labels_of",
    "migrate",
    "open_db",
]
