"""Read-side queries: trace summaries by time window, and whole traces by id.

Readers use their own connections (one per thread), so queries never wait on the writer and
never see a half-written batch.
"""

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from fluoroscope.store.sqlite import connect
from fluoroscope.store.types import (
    StoredTrace,
    SummaryCursor,
    SummaryPage,
    SummaryQuery,
    SummaryRow,
    TimeRange,
)
from fluoroscope.store.writer import load_traces

_TIME_COLUMN = {
    TimeRange.TRACE_ID: "id_time",
    TimeRange.EVENT: "updated_at",
    TimeRange.SERVICE: "end_time",
}

# Knuth's multiplicative hash spreads consecutive rowids evenly over the sampling buckets.
_SAMPLE_BUCKETS = 10_000


class TraceReader:
    """Queries over the stored traces, safe to call from any thread."""

    def __init__(self, path: Path, cache_kib: int) -> None:
        self._path = path
        self._cache_kib = cache_kib
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self._path, readonly=True, cache_kib=self._cache_kib)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        """Close every reader connection (call once no query is running)."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def traces(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """Whole stored traces by id; ids the store does not have are absent."""
        return load_traces(self._connection(), trace_ids)

    def summaries(
        self,
        query: SummaryQuery,
        where: str = "",
        params: Sequence[object] = (),
        keep: Callable[[bytes], bool] | None = None,
        scan_limit: int = 100_000,
    ) -> SummaryPage:
        """One page of summaries in the window, newest first.

        ``where`` and ``params`` are an extra SQL condition (parameterised, never built from
        request text); ``keep`` is a residual predicate on the summary JSON for what SQL cannot
        express. At most ``scan_limit`` traces are examined per page, so a selective residual
        filter returns a short page with a cursor rather than scanning forever.
        """
        column = _TIME_COLUMN[query.time_range]
        conditions = [f"{column} >= ?", f"{column} < ?"]
        args: list[object] = [query.start, query.end]
        if query.after is not None:
            conditions.append(f"({column}, rowid) < (?, ?)")
            args += [query.after.time, query.after.rowid]
        if query.sample_rate is not None:
            conditions.append(f"(rowid * 2654435761) % {_SAMPLE_BUCKETS} < ?")
            args.append(int(query.sample_rate * _SAMPLE_BUCKETS))
        if where:
            conditions.append(f"({where})")
            args += params
        sql = (
            f"SELECT {column}, rowid, summary FROM traces WHERE {' AND '.join(conditions)} "
            f"ORDER BY {column} DESC, rowid DESC"
        )
        rows: list[SummaryRow] = []
        scanned = 0
        last: SummaryCursor | None = None
        cursor = self._connection().execute(sql, args)
        try:
            for time, rowid, summary in cursor:
                scanned += 1
                last = SummaryCursor(time, rowid)
                if keep is None or keep(summary):
                    rows.append(SummaryRow(time, rowid, summary))
                    if len(rows) > query.limit:
                        rows.pop()
                        tail = rows[-1]
                        return SummaryPage(rows, scanned - 1, SummaryCursor(tail.time, tail.rowid))
                if scanned >= scan_limit:
                    return SummaryPage(rows, scanned, last)
        finally:
            cursor.close()
        return SummaryPage(rows, scanned, None)
