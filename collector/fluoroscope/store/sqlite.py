"""Opening SQLite connections the way the store needs them."""

import sqlite3
from pathlib import Path

DATABASE_FILE = "fluoroscope.db"


def connect(path: Path, *, readonly: bool, cache_kib: int) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit) with WAL settings."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    # WAL lets readers run while the one writer commits; NORMAL sync in WAL mode keeps every
    # commit across a process crash (only an OS crash can lose the newest transactions).
    if not readonly:
        connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA temp_store = MEMORY")
    connection.execute(f"PRAGMA cache_size = -{cache_kib}")
    connection.execute("PRAGMA busy_timeout = 30000")
    if readonly:
        connection.execute("PRAGMA query_only = ON")
    return connection
