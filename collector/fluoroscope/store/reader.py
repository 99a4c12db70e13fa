"""Read-side queries: trace summaries by time window, and whole traces by id.

Readers use their own connections (one per thread), so queries never wait on the writer and
never see a half-written batch. Each query returns its rows aggregated into one JSON value, in
one SQLite step: CPython re-acquires the GIL after every step, and behind a busy pipeline thread
that costs up to a switch interval each time, so a row-at-a-time cursor would be slow under load.
"""

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from fluoroscope.store.sqlite import connect
from fluoroscope.store.types import (
    StoredTrace,
    SummaryCursor,
    SummaryPage,
    SummaryQuery,
    SummaryRow,
    TimeRange,
)

_TIME_COLUMN = {
    TimeRange.TRACE_ID: "id_time",
    TimeRange.EVENT: "updated_at",
    TimeRange.SERVICE: "end_time",
}

# Knuth's multiplicative hash spreads consecutive rowids evenly over the sampling buckets.
_SAMPLE_BUCKETS = 10_000
# With a residual predicate, candidates are fetched in chunks of this many rows.
_SCAN_CHUNK = 1_000


class TraceReader:
    """Queries over the stored traces, safe to call from any thread."""

    def __init__(self, path: Path, cache_kib: int) -> None:
        self._path = path
        self._cache_kib = cache_kib
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._generation = 0

    def connection(self) -> sqlite3.Connection:
        """This thread's read connection (for the store's other readers)."""
        return self._connection()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "generation", -1) != self._generation:
            connection = connect(self._path, readonly=True, cache_kib=self._cache_kib)
            self._local.connection = connection
            self._local.generation = self._generation
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        """Close every reader connection (call once no query is running)."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            # Threads holding a closed connection open a new one on their next query.
            self._generation += 1

    def traces(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """Whole stored traces by id (documents in arrival order); unknown ids are absent."""
        if not trace_ids:
            return {}
        connection = self._connection()
        (found_json,) = connection.execute(
            "SELECT json_group_array(json_array(rowid, trace_id, revision, limit_exceeded, "
            "coalesce(sampled_by, ''), probability)) "
            "FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(trace_ids)),),
        ).fetchone()
        found = {
            row[0]: StoredTrace(
                row[0], row[1], row[2], bool(row[3]), sampled_by=row[4], probability=row[5]
            )
            for row in orjson.loads(found_json)
        }
        if not found:
            return {}
        (documents_json,) = connection.execute(
            "SELECT json_group_array(json_array(rowid, trace_rowid, doc)) FROM documents "
            "WHERE trace_rowid IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(found)),),
        ).fetchone()
        for _, trace_rowid, doc in sorted(orjson.loads(documents_json)):
            found[trace_rowid].documents.append(doc.encode())
        return {stored.trace_id: stored for stored in found.values()}

    def annotation_rows(self, where: str, params: list[object], cap: int) -> int:
        """How many annotation rows satisfy ``where`` (counted up to ``cap``)."""
        (count,) = (
            self._connection()
            .execute(
                f"SELECT count(*) FROM (SELECT 1 FROM annotations WHERE {where} LIMIT ?)",
                [*params, cap],
            )
            .fetchone()
        )
        return int(count)

    def summaries(
        self,
        query: SummaryQuery,
        where: str = "",
        params: Sequence[object] = (),
        keep: Callable[[list[object]], bool] | None = None,
        scan_limit: int = 100_000,
    ) -> SummaryPage:
        """One page of summaries in the window, newest first.

        ``where`` and ``params`` are an extra SQL condition (parameterised, never built from
        request text); ``keep`` is a residual predicate on the stored summary for what SQL
        cannot express. At most ``scan_limit`` traces are examined per page, so a selective
        residual filter returns a short page with a cursor rather than scanning forever.
        """
        column = _TIME_COLUMN[query.time_range]
        rows: list[SummaryRow] = []
        scanned = 0
        after = query.after
        chunk = query.limit + 1 if keep is None else _SCAN_CHUNK
        while True:
            candidates = self._candidates(column, query, after, where, params, chunk)
            for time, rowid, summary in candidates:
                scanned += 1
                after = SummaryCursor(time, rowid)
                if keep is not None and not keep(summary):
                    continue
                rows.append(SummaryRow(time, rowid, summary))
                if len(rows) > query.limit:
                    rows.pop()
                    tail = rows[-1]
                    return SummaryPage(rows, scanned - 1, SummaryCursor(tail.time, tail.rowid))
            if len(candidates) < chunk:
                return SummaryPage(rows, scanned, None)
            if scanned >= scan_limit:
                return SummaryPage(rows, scanned, after)

    def _candidates(
        self,
        column: str,
        query: SummaryQuery,
        after: SummaryCursor | None,
        where: str,
        params: Sequence[object],
        limit: int,
    ) -> list[tuple[float, int, list[object]]]:
        conditions = [f"{column} >= ?", f"{column} < ?"]
        args: list[object] = [query.start, query.end]
        if after is not None:
            conditions.append(f"({column}, rowid) < (?, ?)")
            args += [after.time, after.rowid]
        if query.sample_rate is not None:
            conditions.append(f"(rowid * 2654435761) % {_SAMPLE_BUCKETS} < ?")
            args.append(int(query.sample_rate * _SAMPLE_BUCKETS))
        if where:
            conditions.append(f"({where})")
            args += params
        args.append(limit)
        sql = (
            # JSON would round the time to 15 digits; the cursor needs it exactly.
            "SELECT json_group_array(json_array(printf('%!.17g', t), r, json(s))) FROM ("
            f"SELECT {column} AS t, rowid AS r, summary AS s FROM traces "
            f"WHERE {' AND '.join(conditions)} ORDER BY {column} DESC, rowid DESC LIMIT ?)"
        )
        (result,) = self._connection().execute(sql, args).fetchone()
        rows: list[tuple[float, int, list[object]]] = [
            (float(time), rowid, summary) for time, rowid, summary in orjson.loads(result)
        ]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return rows
