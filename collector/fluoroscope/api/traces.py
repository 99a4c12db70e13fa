"""Trace operations: PutTraceSegments, BatchGetTraces, GetTraceSummaries, PutTelemetryRecords."""

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from fluoroscope.api import protocol, tokens
from fluoroscope.api.groups import GroupCatalog, parse_filter
from fluoroscope.errors import ApiError, DocumentError, ThrottledError
from fluoroscope.filters.ast import Node
from fluoroscope.filters.evaluate import matches
from fluoroscope.model.ids import normalize_trace_id
from fluoroscope.model.segment import Document
from fluoroscope.store import summary_codec
from fluoroscope.store.filter_sql import compile_filter
from fluoroscope.store.reader import TraceReader
from fluoroscope.store.types import SummaryCursor, SummaryQuery, TimeRange
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_documents import processed_documents
from fluoroscope.translate.xray_json import parse_document

# Accepts a batch of validated segments with their total size and a callback invoked (on the
# pipeline thread) once they are stored; returns False when the pipeline is full.
Refusals = list[tuple[str, str, str]]
IngestDocuments = Callable[[list[Document], int, Callable[[Refusals], None]], bool]

SUMMARY_PAGE_SIZE = 100
MAX_BATCH_TRACE_IDS = 5  # BatchGetTraces takes 1-5 ids (X-Ray API reference)
# A trace summary's time ranges: TraceId (default), Event (last update), Service (segment end).
_TIME_RANGES = {kind.value: kind for kind in TimeRange}
# Telemetry sources are labels on a counter; bound how many distinct ones are kept apart.
MAX_TELEMETRY_SOURCES = 64
_TELEMETRY_FIELDS = (
    "SegmentsReceivedCount",
    "SegmentsSentCount",
    "SegmentsSpilloverCount",
    "SegmentsRejectedCount",
)


class TraceOperations:
    """Handlers for the trace operations; each takes the request body and returns the reply."""

    def __init__(
        self,
        reader: TraceReader,
        ingest: IngestDocuments,
        executor: Executor,
        registry: Registry,
        ack_timeout_s: float,
        groups: GroupCatalog,
    ) -> None:
        self._reader = reader
        self._groups = groups
        self._ingest = ingest
        self._executor = executor
        self._ack_timeout = ack_timeout_s
        self._received = registry.counter(
            "fluoroscope_api_documents_received", "Documents received by PutTraceSegments"
        ).child()
        self._refused = registry.counter(
            "fluoroscope_documents_refused",
            "Documents refused as invalid, by source and X-Ray error code",
            ("source", "code"),
        )
        self._throttled = registry.counter(
            "fluoroscope_api_documents_throttled",
            "PutTraceSegments documents answered with ThrottledException (the sender retries)",
        ).child()
        self._telemetry = registry.counter(
            "fluoroscope_daemon_telemetry_segments",
            "Segment counts reported by X-Ray daemons through PutTelemetryRecords",
            ("source", "kind"),
        )

    async def put_trace_segments(self, body: dict[str, Any]) -> object:
        """Validate each document; store the valid ones; report the others as unprocessed."""
        documents = protocol.string_list(body, "TraceSegmentDocuments", required=True)
        self._received.inc(len(documents))
        unprocessed: list[dict[str, str]] = []
        accepted: list[Document] = []
        size = 0
        for text in documents:
            try:
                data = text.encode()
            except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8
                self._refuse(unprocessed, DocumentError("JSONFormatError", "not valid UTF-8"))
                continue
            try:
                parsed = parse_document(data)
            except DocumentError as exc:
                self._refuse(unprocessed, exc)
                continue
            accepted.extend(parsed)
            size += len(data)
        if accepted:
            for doc_id, code, message in await self._store(accepted, size):
                unprocessed.append({"Id": doc_id, "ErrorCode": code, "Message": message})
        return {"UnprocessedTraceSegments": unprocessed}

    def _refuse(self, unprocessed: list[dict[str, str]], exc: DocumentError) -> None:
        self._refused.child("api", exc.code).inc()
        entry = {
            "ErrorCode": exc.code,
            "Message": f"Invalid segment. ErrorCode: {exc.code}. {exc.detail}",
        }
        if exc.doc_id is not None:
            entry["Id"] = exc.doc_id
        unprocessed.append(entry)

    async def _store(self, documents: list[Document], size: int) -> Refusals:
        """Hand documents to the pipeline and wait until they are durably stored."""
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[Refusals] = loop.create_future()

        def acknowledge(refusals: Refusals) -> None:
            loop.call_soon_threadsafe(_resolve, stored, refusals)

        if not self._ingest(documents, size, acknowledge):
            self._throttled.inc(len(documents))
            raise ThrottledError("the collector's pipeline is full; retry with backoff")
        try:
            return await asyncio.wait_for(asyncio.shield(stored), self._ack_timeout)
        except TimeoutError:
            # Resending is safe: a document replaces the stored one with the same id.
            self._throttled.inc(len(documents))
            raise ThrottledError("the documents were not stored in time; retry") from None

    async def batch_get_traces(self, body: dict[str, Any]) -> object:
        """Up to five whole traces, one processed document per segment."""
        requested = protocol.string_list(
            body,
            "TraceIds",
            required=True,
            min_items=1,
            max_items=MAX_BATCH_TRACE_IDS,
            max_length=protocol.MAX_TRACE_ID_LENGTH,
        )
        protocol.string(body, "NextToken")
        wanted: dict[str, str] = {}
        unprocessed = []
        for trace_id in requested:
            canonical = normalize_trace_id(trace_id)
            if canonical is None:
                unprocessed.append(trace_id)
            else:
                wanted.setdefault(canonical, trace_id)
        loop = asyncio.get_running_loop()
        stored = await loop.run_in_executor(self._executor, self._reader.traces, list(wanted))
        traces = []
        for canonical, asked in wanted.items():
            trace = stored.get(canonical)
            if trace is None:
                unprocessed.append(asked)
                continue
            processed = processed_documents(trace.documents)
            traces.append(
                {
                    "Id": canonical,
                    "Duration": processed.duration,
                    "LimitExceeded": trace.limit_exceeded,
                    "Segments": [
                        {"Id": doc_id, "Document": document.decode()}
                        for doc_id, document in processed.documents
                    ],
                }
            )
        return {"Traces": traces, "UnprocessedTraceIds": unprocessed}

    async def get_trace_summaries(self, body: dict[str, Any]) -> object:
        """A page of summaries in the window, newest first."""
        start = protocol.required_timestamp(body, "StartTime")
        end = protocol.required_timestamp(body, "EndTime")
        if end < start:
            raise ApiError("EndTime must not be before StartTime")
        kind = protocol.string(body, "TimeRangeType", choices=tuple(_TIME_RANGES)) or "TraceId"
        sampling = protocol.boolean(body, "Sampling") or False
        strategy = protocol.structure(body, "SamplingStrategy")
        expression = protocol.string(body, "FilterExpression")
        token = protocol.string(body, "NextToken")
        node = parse_filter(expression) if expression is not None and expression.strip() else None
        rate = _sampling_rate(strategy) if sampling else None
        query_id = tokens.fingerprint(start, end, kind, rate, expression)
        after = None
        if token is not None:
            position = tokens.decode(token, query_id)
            try:
                after = SummaryCursor(float(position["t"]), int(position["r"]))
            except (KeyError, TypeError, ValueError, OverflowError):
                raise ApiError("NextToken is not valid") from None
            # Rowids are SQLite integers, and times finite: anything else was not written here.
            if not (math.isfinite(after.time) and 0 <= after.rowid < 2**63):
                raise ApiError("NextToken is not valid")
        query = SummaryQuery(_TIME_RANGES[kind], start, end, SUMMARY_PAGE_SIZE, after, rate)
        loop = asyncio.get_running_loop()
        # Planning may look at the store (how common an annotation value is): off the loop.
        where, params, keep = await loop.run_in_executor(self._executor, self._filter, node)
        page = await loop.run_in_executor(
            self._executor, self._reader.summaries, query, where, params, keep
        )
        summaries = []
        for row in page.rows:
            summary = summary_codec.decode(row.summary).to_api()
            summary["MatchedEventTime"] = row.time
            summaries.append(summary)
        reply: dict[str, object] = {
            "TraceSummaries": summaries,
            "ApproximateTime": page.rows[-1].time if page.rows else start,
            "TracesProcessedCount": page.scanned,
        }
        if page.next is not None:
            position = {"t": page.next.time, "r": page.next.rowid}
            reply["NextToken"] = tokens.encode(query_id, position)
        return reply

    def _filter(
        self, node: Node | None
    ) -> tuple[str, list[object], Callable[[list[object]], bool] | None]:
        """The SQL narrowing an expression, and the in-memory check its candidates need."""
        if node is None:
            return "", [], None
        groups = self._groups.filters
        condition = compile_filter(node, groups, self._reader.annotation_rows)
        if condition is not None and condition.exact:
            return condition.sql, condition.params, None

        def keep(stored: list[object]) -> bool:
            return matches(node, summary_codec.decode(stored), groups)

        if condition is None:
            return "", [], keep
        return condition.sql, condition.params, keep

    async def put_telemetry_records(self, body: dict[str, Any]) -> object:
        """Count what X-Ray daemons report about themselves."""
        records = body.get("TelemetryRecords")
        if not isinstance(records, list):
            raise ApiError("TelemetryRecords is required and must be a list")
        protocol.string(body, "EC2InstanceId", max_length=20)
        hostname = protocol.string(body, "Hostname", max_length=255)
        protocol.string(body, "ResourceARN", max_length=500)
        source = hostname or body.get("EC2InstanceId") or "unknown"
        if len({labels[0] for labels, _ in self._telemetry.samples()} | {source}) > (
            MAX_TELEMETRY_SOURCES
        ):
            source = "other"
        for record in records:
            if not isinstance(record, dict):
                raise ApiError("each TelemetryRecord must be an object")
            protocol.timestamp(record, "Timestamp")
            for name in _TELEMETRY_FIELDS:
                protocol.number(record, name, low=0, integer=True)
        for record in records:
            for name in _TELEMETRY_FIELDS:
                value = record.get(name)
                if value:
                    self._telemetry.child(str(source), name).inc(int(value))
        return {}


def _resolve(future: "asyncio.Future[Refusals]", refusals: Refusals) -> None:
    if not future.done():
        future.set_result(refusals)


def _sampling_rate(strategy: dict[str, Any] | None) -> float:
    """The fraction of matches to return when Sampling is true (default 10%)."""
    if strategy is None:
        return 0.1
    protocol.string(strategy, "Name", choices=("PartialScan", "FixedRate"))
    value = protocol.number(strategy, "Value", low=0)
    if value is None:
        return 0.1
    # Values above 1 are read as percentages.
    return min(1.0, value / 100 if value > 1 else value)
