"""The store's single writer: batched transactions of trace revisions, and retention.

Exactly one thread calls these methods (the pipeline's writer thread), so rowids can be handed
out without asking SQLite, and a trace written in one batch is visible to ``load`` in the next.
"""

import sqlite3
from collections.abc import Sequence

import orjson

from fluoroscope.errors import StoreError
from fluoroscope.store.types import StoredTrace, TraceWrite

_UPSERT_TRACE = """
INSERT INTO traces (
    rowid, trace_id, revision, start_time, end_time, id_time, updated_at, duration,
    response_time, http_status, http_method, http_url, http_useragent, http_clientip,
    has_fault, has_error, has_throttle, is_partial, completeness, limit_exceeded, summary
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rowid) DO UPDATE SET
    revision = excluded.revision, start_time = excluded.start_time,
    end_time = excluded.end_time, id_time = excluded.id_time, updated_at = excluded.updated_at,
    duration = excluded.duration, response_time = excluded.response_time,
    http_status = excluded.http_status, http_method = excluded.http_method,
    http_url = excluded.http_url, http_useragent = excluded.http_useragent,
    http_clientip = excluded.http_clientip, has_fault = excluded.has_fault,
    has_error = excluded.has_error, has_throttle = excluded.has_throttle,
    is_partial = excluded.is_partial, completeness = excluded.completeness,
    limit_exceeded = excluded.limit_exceeded, summary = excluded.summary
"""

_UPSERT_DOCUMENT = """
INSERT OR REPLACE INTO documents (trace_rowid, doc_id, doc) VALUES (?, ?, ?)
"""


class TraceWriter:
    """Writes trace revisions in one transaction per batch."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        (highest,) = connection.execute("SELECT coalesce(max(rowid), 0) FROM traces").fetchone()
        self._next_rowid: int = highest + 1

    def load(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """The stored state of those of ``trace_ids`` that the store has."""
        return load_traces(self._connection, trace_ids)

    def write(self, writes: Sequence[TraceWrite], now: float) -> None:
        """Store every write in one transaction; assigns ``rowid`` to first writes.

        On failure nothing is stored, first writes get ``rowid`` None again, and StoreError is
        raised, so that the caller can retry the same batch.
        """
        first_rowid = self._next_rowid
        traces: list[tuple[object, ...]] = []
        documents: list[tuple[int, str, bytes]] = []
        stale_annotations: list[tuple[int]] = []
        annotations: list[tuple[str, str, object, int]] = []
        fresh: list[TraceWrite] = []
        for write in writes:
            if write.rowid is None:
                write.rowid = self._next_rowid
                self._next_rowid += 1
                fresh.append(write)
            elif write.annotations_changed:
                stale_annotations.append((write.rowid,))
            rowid = write.rowid
            s = write.summary
            traces.append(
                (
                    rowid, s.trace_id, s.revision, s.start_time, s.end_time, s.id_time, now,
                    s.duration, s.response_time, s.http_status, s.http_method, s.http_url,
                    s.http_user_agent, s.http_client_ip, s.has_fault, s.has_error,
                    s.has_throttle, s.is_partial, int(s.completeness), s.limit_exceeded,
                    orjson.dumps(s.to_api()),
                )
            )  # fmt: skip
            for doc_id, raw in write.documents:
                documents.append((rowid, doc_id, raw))
            if write.annotations_changed:
                for key, values in s.annotations.items():
                    for tag, value in values:
                        annotations.append((key, tag, value, rowid))
        connection = self._connection
        try:
            connection.execute("BEGIN")
            connection.executemany(_UPSERT_TRACE, traces)
            connection.executemany(_UPSERT_DOCUMENT, documents)
            if stale_annotations:
                connection.executemany(
                    "DELETE FROM annotations WHERE trace_rowid = ?", stale_annotations
                )
            connection.executemany(
                "INSERT OR IGNORE INTO annotations VALUES (?, ?, ?, ?)", annotations
            )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self._next_rowid = first_rowid
            for write in fresh:
                write.rowid = None
            raise StoreError(f"writing {len(traces)} traces failed: {exc}") from exc

    def delete_expired(self, cutoff: float, limit: int) -> int:
        """Delete up to ``limit`` whole traces last updated before ``cutoff``; return how many."""
        connection = self._connection
        rowids = [
            (rowid,)
            for (rowid,) in connection.execute(
                "SELECT rowid FROM traces WHERE updated_at < ? ORDER BY updated_at LIMIT ?",
                (cutoff, limit),
            )
        ]
        if not rowids:
            return 0
        try:
            connection.execute("BEGIN")
            connection.executemany("DELETE FROM documents WHERE trace_rowid = ?", rowids)
            connection.executemany("DELETE FROM annotations WHERE trace_rowid = ?", rowids)
            connection.executemany("DELETE FROM traces WHERE rowid = ?", rowids)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise StoreError(f"retention delete failed: {exc}") from exc
        return len(rowids)


def load_traces(connection: sqlite3.Connection, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
    """Read whole traces (documents in arrival order of their current versions) by trace id."""
    if not trace_ids:
        return {}
    found: dict[int, StoredTrace] = {}
    for rowid, trace_id, revision, limit_exceeded in connection.execute(
        "SELECT rowid, trace_id, revision, limit_exceeded FROM traces "
        "WHERE trace_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(list(trace_ids)),),
    ):
        found[rowid] = StoredTrace(rowid, trace_id, revision, bool(limit_exceeded))
    if not found:
        return {}
    for trace_rowid, doc in connection.execute(
        "SELECT trace_rowid, doc FROM documents "
        "WHERE trace_rowid IN (SELECT value FROM json_each(?)) ORDER BY rowid",
        (orjson.dumps(list(found)),),
    ):
        found[trace_rowid].documents.append(doc)
    return {stored.trace_id: stored for stored in found.values()}
