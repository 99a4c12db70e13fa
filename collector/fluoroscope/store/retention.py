"""Retention: deleting whole traces past their age, or past a bound on the store's size.

It runs on the store's writer thread, on the writer's connection, between batches: SQLite has
one writer at a time, and deletion is a write like any other.
"""

import logging
import sqlite3
import time
from collections.abc import Callable

import orjson

from fluoroscope.errors import StoreError
from fluoroscope.model.summary import PLAUSIBLE_ID_EPOCH_SECONDS

log = logging.getLogger(__name__)

# At most this many traces are deleted per transaction.
RETENTION_CHUNK = 5_000
RETENTION_INTERVAL_S = 60.0
# After a full chunk the next one follows this soon (between batches).
RETENTION_BUSY_S = 0.25
# With a bound on the store's size it is looked at this often: at 20,000 segments/s the
# database grows by about 40 MB/s.
SIZE_CHECK_INTERVAL_S = 2.0


class Retention:
    """What to delete, and deleting it, on one connection."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        retention_s: float | None,
        now: Callable[[], float] = time.time,
        *,
        max_bytes: int | None = None,
        keep_recent_s: float = 0.0,
    ) -> None:
        """``retention_s``: the age past which traces go (None: none); ``max_bytes`` bounds
        the pages in use (the least recently updated traces go past it); traces updated within
        ``keep_recent_s`` never go."""
        self._connection = connection
        self._retention_s = retention_s
        self._now = now
        self._max_bytes = max_bytes
        self._keep_recent_s = keep_recent_s
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        self._page_size: int = page_size
        self.expired = 0
        self.deleted_for_space = 0

    def expire(self) -> float:
        """Delete a chunk of traces past their age, or past the size bound; return when to
        look again.

        Traces updated within ``keep_recent_s`` are never deleted: the assembler may still
        hold them, and would write only their newer documents back.
        """
        interval = RETENTION_INTERVAL_S if self._max_bytes is None else SIZE_CHECK_INTERVAL_S
        now = self._now()
        recent = now - self._keep_recent_s
        try:
            if self._retention_s is not None:
                deleted = self.delete_expired(min(now - self._retention_s, recent), RETENTION_CHUNK)
                self.expired += deleted
                if deleted == RETENTION_CHUNK:
                    return RETENTION_BUSY_S
            if self._max_bytes is not None and self.used_bytes() > self._max_bytes:
                deleted = self.delete_expired(recent, RETENTION_CHUNK)
                self.deleted_for_space += deleted
                if deleted:
                    return RETENTION_BUSY_S
        except (StoreError, sqlite3.Error) as exc:
            log.error("retention failed: %s", exc)
        return interval

    def used_bytes(self) -> int:
        """Bytes of the database's pages that hold data (free pages are reused first)."""
        connection = self._connection
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        (free,) = connection.execute("PRAGMA freelist_count").fetchone()
        return int((pages - free) * self._page_size)

    def delete_expired(self, cutoff: float, limit: int) -> int:
        """Delete up to ``limit`` whole traces, least recently updated first, of those last
        updated before ``cutoff``; return how many."""
        connection = self._connection
        (rowids, newest) = connection.execute(
            "SELECT json_group_array(rowid), max(updated_at) FROM "
            "(SELECT rowid, updated_at FROM traces WHERE updated_at < ? "
            "ORDER BY updated_at LIMIT ?)",
            (cutoff, limit),
        ).fetchone()
        count = len(orjson.loads(rowids))
        if not count:
            return 0
        try:
            connection.execute("BEGIN")
            for table, column in (
                ("documents", "trace_rowid"),
                ("annotations", "trace_rowid"),
                ("trace_services", "trace_rowid"),
                ("traces", "rowid"),
            ):
                connection.execute(
                    f"DELETE FROM {table} WHERE {column} IN (SELECT value FROM json_each(?))",
                    (rowids,),
                )
            # Graph statistics older than every kept trace go too (hours once whole). They are
            # filed by segment time, and traces are deleted by when they were written: a trace
            # sent late keeps its statistics as long as it is kept. A trace's id time lies
            # within a day of its start (model.summary), and it is indexed.
            (earliest,) = connection.execute("SELECT min(id_time) FROM traces").fetchone()
            graph_cutoff = min(cutoff, newest)
            if earliest is not None:
                graph_cutoff = min(graph_cutoff, earliest - PLAUSIBLE_ID_EPOCH_SECONDS)
            connection.execute("DELETE FROM graph_minutes WHERE minute < ?", (graph_cutoff - 60,))
            connection.execute("DELETE FROM graph_hours WHERE minute < ?", (graph_cutoff - 3600,))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise StoreError(f"retention delete failed: {exc}") from exc
        return count
