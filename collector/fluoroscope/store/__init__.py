"""The embedded trace store: SQLite in WAL mode under the data directory.

One writer thread (:class:`TraceWriter`) stores trace revisions in batched transactions; any
number of readers (:class:`TraceReader`) query with their own connections.
:class:`TraceSink` is the narrow interface the assembler writes through;
:class:`InMemoryTraceSink` implements it for tests.
"""

from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.store.reader import TraceReader
from fluoroscope.store.store import Store, TraceSink
from fluoroscope.store.types import (
    StoredTrace,
    SummaryCursor,
    SummaryPage,
    SummaryQuery,
    SummaryRow,
    TimeRange,
    TraceRecord,
    TraceWrite,
    record_of,
)
from fluoroscope.store.writer import TraceWriter

__all__ = [
    "InMemoryTraceSink",
    "Store",
    "StoredTrace",
    "SummaryCursor",
    "SummaryPage",
    "SummaryQuery",
    "SummaryRow",
    "TimeRange",
    "TraceReader",
    "TraceRecord",
    "TraceSink",
    "TraceWrite",
    "TraceWriter",
    "record_of",
]
