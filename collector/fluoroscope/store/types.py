"""What crosses the store's boundary: trace writes in, stored traces and summary pages out."""

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from fluoroscope.model.facts import CLIENT_TYPE, Call, Status, TraceFacts, Visit
from fluoroscope.model.segment import AnnotationValue
from fluoroscope.model.services import ServiceId
from fluoroscope.model.summary import TraceSummary
from fluoroscope.store import summary_codec

# trace_services.flags bits (see the schema): the status classes, whether the service was the
# trace's root, and whether it is an inferred node.
SERVICE_FLAGS = {"fault": 1, "error": 2, "throttle": 4, "ok": 8, "root": 16, "inferred": 32}
_STATUS_FLAG = {
    Status.FAULT: SERVICE_FLAGS["fault"],
    Status.ERROR: SERVICE_FLAGS["error"],
    Status.THROTTLE: SERVICE_FLAGS["throttle"],
    Status.OK: SERVICE_FLAGS["ok"],
}


class TraceRecord(NamedTuple):
    """A trace revision laid out for the store: every row but for its rowid and sampling.

    Plain values only, so that a record made in a helper process crosses back cheaply.
    """

    trace_id: str
    revision: int
    # The ``traces`` columns that come from the summary, in :data:`SUMMARY_COLUMNS` order.
    columns: tuple[object, ...]
    completeness: int
    # (key, kind tag, value) of each indexed annotation.
    annotations: list[tuple[str, str, AnnotationValue]]
    # (name, type, account, flags, longest response time) per service the trace visited.
    services: list[tuple[str, str, str, int, float]]

    @property
    def summary(self) -> str:
        """The stored summary (summary_codec's JSON)."""
        return str(self.columns[_SUMMARY_INDEX])


# The traces columns a TraceRecord fills, in its order.
SUMMARY_COLUMNS = (
    "trace_id, revision, start_time, end_time, id_time, duration, response_time, http_status, "
    "http_method, http_url, http_useragent, http_clientip, has_fault, has_error, has_throttle, "
    "is_partial, completeness, limit_exceeded, summary, inferred"
)
_SUMMARY_INDEX = 18


def record_of(s: TraceSummary, services: list[tuple[str, str, str, int, float]]) -> TraceRecord:
    """Lay out a summary for the store.

    Flags go in as 0 and 1, which is what SQLite stores for them anyway: Python's sqlite3
    binds an int directly, but looks up an adapter for a bool first, which takes eight times
    as long.
    """
    columns = (
        s.trace_id, s.revision, s.start_time, s.end_time, s.id_time, s.duration,
        s.response_time, s.http_status, s.http_method, s.http_url, s.http_user_agent,
        s.http_client_ip, int(s.has_fault), int(s.has_error), int(s.has_throttle),
        int(s.is_partial), int(s.completeness), int(s.limit_exceeded),
        summary_codec.encode(s).decode(), int(s.inferred),
    )  # fmt: skip
    return TraceRecord(
        s.trace_id,
        s.revision,
        columns,
        int(s.completeness),
        [(key, tag, value) for key, values in s.annotations.items() for tag, value in values],
        services,
    )


@dataclass(slots=True)
class TraceWrite:
    """One trace's new revision: its record, and the documents that are new or replaced."""

    record: TraceRecord
    # (document id, document as received) for documents new or replaced since the last write.
    documents: list[tuple[str, bytes]]
    # The trace's rowid in the store, or None if this is its first write.
    rowid: int | None = None
    # Whether the annotation index rows must be rewritten (new or changed annotations).
    annotations_changed: bool = True
    # The sampling rule that kept the trace ("" when nothing sampled it) and the probability
    # it had of being kept: a kept trace stands for 1/probability like it.
    sampled_by: str = ""
    probability: float = 1.0


def service_rows(facts: TraceFacts) -> list[tuple[str, str, str, int, float]]:
    """``TraceWrite.services``: a row per service visited or called into, with its flags."""
    rows: dict[ServiceId, list[float]] = {}
    for visit in facts.visits:
        row = rows.setdefault(visit.service, [0, 0.0])
        root = SERVICE_FLAGS["root"] if visit.root else 0
        row[0] = int(row[0]) | _flags(visit) | root
        row[1] = max(row[1], visit.response_time)
    for call in facts.calls:
        if call.target.inferred and call.target.type != CLIENT_TYPE:
            row = rows.setdefault(call.target, [SERVICE_FLAGS["inferred"], 0.0])
            row[0] = int(row[0]) | _flags(call)
            row[1] = max(row[1], call.response_time)
    return [
        (s.name, s.type or "", s.account_id or "", int(flags), longest)
        for s, (flags, longest) in rows.items()
    ]


def _flags(entity: Visit | Call) -> int:
    """Status bits as service() blocks test them: the class, plus raw error/throttle flags."""
    bits = _STATUS_FLAG[entity.status]
    if entity.error:
        bits |= SERVICE_FLAGS["error"]
    if entity.throttle:
        bits |= SERVICE_FLAGS["throttle"]
    return bits


@dataclass(slots=True)
class StoredTrace:
    """A trace as stored: its documents in the order their current versions arrived."""

    rowid: int
    trace_id: str
    revision: int
    limit_exceeded: bool
    documents: list[bytes] = field(default_factory=list)
    # How it was sampled (TraceWrite.sampled_by and .probability).
    sampled_by: str = ""
    probability: float = 1.0


class TimeRange(enum.Enum):
    """Which time of a trace GetTraceSummaries' window applies to (``TimeRangeType``)."""

    TRACE_ID = "TraceId"
    EVENT = "Event"
    SERVICE = "Service"


@dataclass(slots=True, frozen=True)
class SummaryCursor:
    """Where a page of summaries stopped: strictly decreasing, so paging always ends."""

    time: float
    rowid: int


@dataclass(slots=True, frozen=True)
class SummaryQuery:
    """One page of GetTraceSummaries, newest first."""

    time_range: TimeRange
    start: float
    end: float
    limit: int
    after: SummaryCursor | None = None
    # Keep only this fraction of matching traces, chosen by a hash of the trace (Sampling).
    sample_rate: float | None = None


@dataclass(slots=True)
class SummaryRow:
    """A matching trace: the time it matched on and its stored summary JSON."""

    time: float
    rowid: int
    # The stored summary, decoded from JSON (see summary_codec).
    summary: list[object]


@dataclass(slots=True)
class SummaryPage:
    """A page of summaries and where the next one starts (None when there is no more)."""

    rows: list[SummaryRow]
    scanned: int
    next: SummaryCursor | None
