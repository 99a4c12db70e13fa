"""What crosses the store's boundary: trace writes in, stored traces and summary pages out."""

import enum
from dataclasses import dataclass, field

from fluoroscope.model.summary import TraceSummary


@dataclass(slots=True)
class TraceWrite:
    """One trace's new revision: its summary, and the documents that are new or replaced."""

    summary: TraceSummary
    # (document id, document as received) for documents new or replaced since the last write.
    documents: list[tuple[str, bytes]]
    # The trace's rowid in the store, or None if this is its first write.
    rowid: int | None = None
    # Whether the annotation index rows must be rewritten (new or changed annotations).
    annotations_changed: bool = True
    # (name, type, account, flags, longest response time) per service the trace visited.
    services: list[tuple[str, str, str, int, float]] = field(default_factory=list)
    # The sampling rule that kept the trace ("" when nothing sampled it) and the probability
    # it had of being kept: a kept trace stands for 1/probability like it.
    sampled_by: str = ""
    probability: float = 1.0


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
