"""Opening SQLite connections the way the store needs them."""

import sqlite3
from pathlib import Path

DATABASE_FILE = "fluoroscope.db"
# The page size of a new database (SQLite's default is 4 KiB). A trace's summary row is about
# 2.5 KiB, so 4 KiB pages hold one each; 16 KiB pages hold six. Measured on 100,000 traces
# (bench query): 23% less disk, and the writer thread used about 20% less CPU at 12,000
# segments/s (bench ingest). A database keeps the page size it was created with.
PAGE_SIZE = 16_384
# When SQLite starts the WAL again from its beginning it cuts the file back to this size, so a
# WAL that a burst grew does not keep its disk space until the next clean stop.
WAL_SIZE_LIMIT = 64 << 20


def connect(path: Path, *, readonly: bool, cache_kib: int, sync: bool = True) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit) with WAL settings.

    ``sync=False`` never waits for the disk, at the checkpoints that copy the WAL into the
    database (those run on the checkpoint thread, see ``checkpointer``). Then an OS crash or a
    power loss can lose recent transactions and may leave the database damaged.
    """
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    # WAL lets readers run while the one writer commits; NORMAL sync in WAL mode keeps every
    # commit across a process crash (only an OS crash can lose the newest transactions).
    if not readonly:
        connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a no-op once the file exists
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    connection.execute(f"PRAGMA synchronous = {'NORMAL' if sync else 'OFF'}")
    connection.execute("PRAGMA temp_store = MEMORY")
    connection.execute(f"PRAGMA cache_size = -{cache_kib}")
    connection.execute("PRAGMA busy_timeout = 30000")
    if readonly:
        connection.execute("PRAGMA query_only = ON")
    return connection
