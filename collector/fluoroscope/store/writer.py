"""The store's single writer thread: batched transactions of trace revisions, and retention
between them.

CPython releases the GIL around each SQLite step and must win it back afterwards; behind a busy
pipeline thread that wait lasts up to a switch interval. A statement per row (``executemany``)
pays it once per row, thousands of times per batch; here every statement carries as many rows
as SQLite's parameter limit allows (multi-row ``VALUES``), so a batch costs a handful of waits
and the writing itself runs beside the pipeline, on the other core.

:meth:`TraceWriter.prepare` runs on the pipeline thread (it assigns rowids and lays out the
rows); :meth:`TraceWriter.submit` hands the batch over; the writer thread commits it and then
calls the batch's ``on_commit``.
"""

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fluoroscope.errors import StoreError
from fluoroscope.model.services import ServiceId
from fluoroscope.model.statistics import BUCKETS, Contribution
from fluoroscope.store.retention import Retention
from fluoroscope.store.types import SUMMARY_COLUMNS, TraceWrite

log = logging.getLogger(__name__)

# Batches waiting for the writer; when full, submit() blocks the pipeline (backpressure).
QUEUE_BATCHES = 2
# After a failed transaction the same batch is retried after this long.
RETRY_S = 1.0
STATEMENT_VARIABLES = 8_192

_TRACE_COLUMNS = f"rowid, updated_at, sampled_by, probability, {SUMMARY_COLUMNS}"
_TRACE_WIDTH = 24
_TRACE_UPDATE = """
ON CONFLICT (rowid) DO UPDATE SET
    revision = excluded.revision, start_time = excluded.start_time,
    end_time = excluded.end_time, id_time = excluded.id_time, updated_at = excluded.updated_at,
    duration = excluded.duration, response_time = excluded.response_time,
    http_status = excluded.http_status, http_method = excluded.http_method,
    http_url = excluded.http_url, http_useragent = excluded.http_useragent,
    http_clientip = excluded.http_clientip, has_fault = excluded.has_fault,
    has_error = excluded.has_error, has_throttle = excluded.has_throttle,
    is_partial = excluded.is_partial, completeness = excluded.completeness,
    limit_exceeded = excluded.limit_exceeded, summary = excluded.summary,
    inferred = excluded.inferred, sampled_by = excluded.sampled_by,
    probability = excluded.probability
"""
_GRAPH_COLUMNS = (
    "grp, minute, kind, src_name, src_type, src_account, src_inferred, "
    "dst_name, dst_type, dst_account, dst_inferred, ok, error, throttle, fault, total, total_rt, "
    + ", ".join(f"h{i}" for i in range(BUCKETS))
)
_GRAPH_WIDTH = 17 + BUCKETS
_GRAPH_UPDATE = "ON CONFLICT DO UPDATE SET " + ", ".join(
    f"{column} = {column} + excluded.{column}"
    for column in ["ok", "error", "throttle", "fault", "total", "total_rt"]
    + [f"h{i}" for i in range(BUCKETS)]
)
# An hour's row also keeps the first and last minute it has statistics for.
_HOUR_COLUMNS = f"{_GRAPH_COLUMNS}, first_minute, last_minute"
_HOUR_WIDTH = _GRAPH_WIDTH + 2
_HOUR_UPDATE = (
    f"{_GRAPH_UPDATE}, first_minute = min(first_minute, excluded.first_minute), "
    "last_minute = max(last_minute, excluded.last_minute)"
)


@dataclass(slots=True)
class WriteBatch:
    """One transaction's rows, each table's values laid out flat in column order."""

    seq: int
    traces: list[object]
    documents: list[object]
    stale_annotations: list[int]
    # Traces written before: their per-service rows are replaced.
    updated: list[int]
    annotations: list[object]
    services: list[object]
    graph: list[object]
    graph_hours: list[object]
    trace_count: int
    document_count: int
    on_commit: Callable[[], None] | None = None


class _MultiRow:
    """``<head> VALUES (?, ...), (?, ...) ... <tail>`` statements of a few fixed sizes.

    Each distinct statement is compiled and cached by SQLite, and a compiled multi-row statement
    is large, so rows go out in chunks of a handful of sizes only: as many full statements as
    fit, then the remainder in descending fixed sizes.
    """

    def __init__(self, head: str, width: int, max_variables: int, tail: str = "") -> None:
        self._width = width
        full = max(1, max_variables // width)
        self._sizes = sorted(
            {full, *(size for size in (256, 32, 4, 1) if size < full)}, reverse=True
        )
        row = "(" + ", ".join("?" * width) + ")"
        self._sql = {
            size: f"{head} VALUES {', '.join([row] * size)} {tail}" for size in self._sizes
        }

    def run(self, connection: sqlite3.Connection, values: list[object]) -> None:
        """Insert ``values`` (rows flattened) in as few statements as the sizes allow."""
        width = self._width
        rows = len(values) // width
        offset = 0
        for size in self._sizes:
            sql = self._sql[size]
            while rows >= size:
                end = offset + size * width
                connection.execute(sql, values[offset:end])
                offset = end
                rows -= size


class TraceWriter:
    """Owns the write connection and the thread that uses it."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        retention: Retention | None = None,
        now: Callable[[], float] = time.time,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        """``retention`` runs between batches, on this connection; ``after_commit`` is called
        on the writer thread after every transaction."""
        self._connection = connection
        self.retention = retention
        self._after_commit = after_commit
        self._now = now
        (highest,) = connection.execute("SELECT coalesce(max(rowid), 0) FROM traces").fetchone()
        self._next_rowid: int = highest + 1
        # Parameters per statement: fewer statements means fewer waits for the GIL, but each
        # compiled statement grows with its parameters.
        self._max_variables = min(
            STATEMENT_VARIABLES, connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        )
        self._traces = _MultiRow(
            f"INSERT INTO traces ({_TRACE_COLUMNS})",
            _TRACE_WIDTH,
            self._max_variables,
            _TRACE_UPDATE,
        )
        self._documents = _MultiRow(
            "INSERT OR REPLACE INTO documents (trace_rowid, doc_id, doc)", 3, self._max_variables
        )
        self._annotations = _MultiRow(
            "INSERT OR IGNORE INTO annotations (key, vtype, value, trace_rowid)",
            4,
            self._max_variables,
        )
        self._services = _MultiRow(
            "INSERT OR REPLACE INTO trace_services "
            "(name, type, account, trace_rowid, flags, max_rt)",
            6,
            self._max_variables,
        )
        self._graph = _MultiRow(
            f"INSERT INTO graph_minutes ({_GRAPH_COLUMNS})",
            _GRAPH_WIDTH,
            self._max_variables,
            _GRAPH_UPDATE,
        )
        self._graph_hours = _MultiRow(
            f"INSERT INTO graph_hours ({_HOUR_COLUMNS})",
            _HOUR_WIDTH,
            self._max_variables,
            _HOUR_UPDATE,
        )
        self._next_seq = 1
        self.committed_seq = 0
        self._queue: queue.Queue[WriteBatch | None] = queue.Queue(QUEUE_BATCHES)
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self.healthy = True
        self.last_error: str | None = None
        self.errors = 0
        # Batches dropped because writing them raised something other than an SQLite error.
        self.dropped_batches = 0
        self.documents_written = 0
        self.traces_written = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._worker = threading.Thread(target=self._run, name="fluoroscope-writer", daemon=True)
        self._worker.start()

    def stop(self, timeout: float) -> None:
        """Write every batch already submitted, then stop; idempotent."""
        if self._worker is None or not self._worker.is_alive():
            return
        self._stopping.set()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.error("the writer is stuck; %d batches are not written", self._queue.qsize())
            return
        self._worker.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._worker is not None and self._worker.is_alive()

    def prepare(
        self, writes: Sequence[TraceWrite], now: float, graph: Contribution | None = None
    ) -> WriteBatch:
        """Lay out writes for one transaction, assigning rowids to first writes.

        Called from the pipeline thread only (it is the only one that hands out rowids).
        """
        traces: list[object] = []
        documents: list[object] = []
        stale: list[int] = []
        updated: list[int] = []
        annotations: list[object] = []
        services: list[object] = []
        document_count = 0
        for write in writes:
            if write.rowid is None:
                write.rowid = self._next_rowid
                self._next_rowid += 1
            else:
                updated.append(write.rowid)
                if write.annotations_changed:
                    stale.append(write.rowid)
            rowid = write.rowid
            record = write.record
            traces += (rowid, now, write.sampled_by or None, write.probability)
            traces += record.columns
            for doc_id, raw in write.documents:
                documents += (rowid, doc_id, raw.decode())
            document_count += len(write.documents)
            if write.annotations_changed:
                for key, tag, value in record.annotations:
                    annotations += (key, tag, value, rowid)
            for name, kind, account, flags, longest in record.services:
                services += (name, kind, account, rowid, flags, longest)
        seq = self._next_seq
        self._next_seq += 1
        return WriteBatch(
            seq,
            traces,
            documents,
            stale,
            updated,
            annotations,
            services,
            *_graph_rows(graph or {}),
            len(writes),
            document_count,
        )

    def submit(self, batch: WriteBatch, timeout: float | None = None) -> None:
        """Queue a prepared batch; blocks while the writer is behind (backpressure)."""
        if self._stopping.is_set():
            raise StoreError("the store is closing")
        try:
            self._queue.put(batch, timeout=timeout)
        except queue.Full:
            raise StoreError("the writer did not take the batch in time") from None

    def write(self, batch: WriteBatch) -> None:
        """Run one batch's transaction on the calling thread (the writer thread, or tests)."""
        connection = self._connection
        try:
            connection.execute("BEGIN")
            self._traces.run(connection, batch.traces)
            self._documents.run(connection, batch.documents)
            self._delete(connection, "annotations", batch.stale_annotations)
            self._delete(connection, "trace_services", batch.updated)
            self._annotations.run(connection, batch.annotations)
            self._services.run(connection, batch.services)
            self._graph.run(connection, batch.graph)
            self._graph_hours.run(connection, batch.graph_hours)
            connection.execute("COMMIT")
        except BaseException as exc:  # whatever it was, the next batch starts afresh
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"writing {batch.trace_count} traces failed: {exc}") from exc
            raise

    def _delete(self, connection: sqlite3.Connection, table: str, rowids: list[int]) -> None:
        """Delete a table's rows for these traces (they are rewritten in the same batch)."""
        for offset in range(0, len(rowids), self._max_variables):
            chunk = rowids[offset : offset + self._max_variables]
            marks = ", ".join("?" * len(chunk))
            connection.execute(f"DELETE FROM {table} WHERE trace_rowid IN ({marks})", chunk)

    def _run(self) -> None:
        next_retention = self._now() + 5.0
        while True:
            try:
                batch = self._queue.get(timeout=1.0)
            except queue.Empty:
                batch = None
                if self._stopping.is_set():
                    return
            else:
                if batch is None:
                    return
                self._commit(batch)
            # Between batches, also while they never stop coming.
            if self.retention is not None and self._now() >= next_retention:
                next_retention = self._now() + self.retention.expire()

    def _commit(self, batch: WriteBatch) -> None:
        while True:
            try:
                self.write(batch)
            except StoreError as exc:
                self.errors += 1
                self.healthy = False
                self.last_error = str(exc)
                log.error("store write failed, retrying in %.0f s: %s", RETRY_S, exc)
                time.sleep(RETRY_S)
                continue
            except Exception:  # a bug: the same batch would fail again; it must not stop writes
                log.exception("dropping a batch of %d traces that cannot be written",
                              batch.trace_count)  # fmt: skip
                self.dropped_batches += 1
                self.committed_seq = batch.seq  # nothing later waits on it
                return
            break
        self.healthy = True
        self.committed_seq = batch.seq
        if self._after_commit is not None:
            self._after_commit()
        self.documents_written += batch.document_count
        self.traces_written += batch.trace_count
        if batch.on_commit is not None:
            try:
                batch.on_commit()
            except Exception:  # a caller's callback must never stop the writer
                log.exception("a commit callback failed")


def _graph_rows(graph: Contribution) -> tuple[list[object], list[object]]:
    """Rows for graph_minutes, and the same changes summed per hour for graph_hours."""
    rows: list[object] = []
    hours: dict[tuple[object, ...], list[float]] = {}
    # Per hour row: the first and last minute these changes touch.
    bounds: dict[tuple[object, ...], tuple[int, int]] = {}
    for (group, kind, minute, source, target), values in graph.items():
        key = (kind, *_service_columns(source), *_service_columns(target))
        rows += (group, minute, *key, *values)
        hour_key: tuple[object, ...] = (group, minute - minute % 3600, *key)
        hourly = hours.setdefault(hour_key, [0.0] * len(values))
        for index, value in enumerate(values):
            hourly[index] += value
        first, last = bounds.get(hour_key, (minute, minute))
        bounds[hour_key] = (min(first, minute), max(last, minute))
    hour_rows: list[object] = []
    for hour_key, values in hours.items():
        hour_rows += (*hour_key, *values, *bounds[hour_key])
    return rows, hour_rows


def _service_columns(service: ServiceId | None) -> tuple[str, str, str, bool]:
    if service is None:
        return ("", "", "", False)
    return (service.name, service.type or "", service.account_id or "", service.inferred)
