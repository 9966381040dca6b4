"""Opening the SQLite database: WAL, durability policy, migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


from ..core.errors import StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION

CACHE_KIB = 1024

# The store's handle and its error, as the rest of the agent names them: outside `store/` a
# connection is only passed along (to the functions here that hold the SQL), never queried.
Database = sqlite3.Connection
DatabaseError = sqlite3.Error


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the project's pragmas; the schema is migrated unless read-only."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
        else:
            usable(path)
            conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        # 1 MiB of SQLite's own page cache per connection (its default is 2 MiB): the kernel caches
        # the file anyway, and on a small box SQLite's copy is private memory, the kernel's is not.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk before we acknowledge anything built on it (MQTT QoS 1
            # acks, outbox sends). Batching keeps the number of fsyncs low.
            conn.execute("PRAGMA synchronous = FULL")
            # Checkpoint every ~4 MB of WAL instead of 1000 pages to write the SD card in fewer bursts.
            conn.execute("PRAGMA wal_autocheckpoint = 1000")
            migrate(conn)
        return conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open database ({exc})") from None


def usable(path: Path) -> None:
    """The data dir exists and the database can be created and written, or one line saying why not."""
    try:
        private(path)
    except OSError as exc:
        where = path if path.parent.is_dir() and not isinstance(exc, NotADirectoryError) else path.parent
        raise StoreError(f"{where}: cannot use it for the database ({_cause(exc)}); check data_dir") from None


def _cause(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def private(path: Path) -> None:
    """The data dir 0700 and the database 0600 whatever the umask: it holds names, beacon ids and keys.

    SQLite gives its -wal and -shm files the database file's mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.stat().st_uid == os.getuid():
        path.parent.chmod(0o700)
    try:
        # Only when it does not exist yet: closing any descriptor of a database file releases
        # every POSIX lock this process holds on it, including those of open SQLite connections.
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; returns the resulting version."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema v{version} is newer than this edge-agent (v{SCHEMA_VERSION}); upgrade edge-agent"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain semicolons)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def open_db(path: Path, *, readonly: bool = False) -> sqlite_utils.Database:
    # Imported here: sqlite-utils brings click, pluggy, tabulate and dateutil (~20 MB) that the daemon never needs.
    import sqlite_utils

    """A sqlite-utils Database over `connect()`."""
    return sqlite_utils.Database(connect(path, readonly=readonly))


def integrity(conn: sqlite3.Connection) -> tuple[str, str]:
    """(`PRAGMA integrity_check` result, journal mode)."""
    return str(conn.execute("PRAGMA integrity_check").fetchone()[0]), str(
        conn.execute("PRAGMA journal_mode").fetchone()[0]
    )
