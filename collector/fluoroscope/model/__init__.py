"""The one data model: a typed view over X-Ray segment documents, and the trace built from them.

Stdlib only. Everything past the receivers speaks these types; nothing here knows JSON bytes,
sockets or SQL.
"""

from fluoroscope.model.ids import (
    is_entity_id,
    is_trace_id,
    normalize_trace_id,
    trace_id_epoch,
)
from fluoroscope.model.segment import AnnotationValue, ExceptionInfo, Segment
from fluoroscope.model.summary import ServiceId, TraceSummary, summarize
from fluoroscope.model.trace import Completeness, TraceTree

__all__ = [
    "AnnotationValue",
    "Completeness",
    "ExceptionInfo",
    "Segment",
    "ServiceId",
    "TraceSummary",
    "TraceTree",
    "is_entity_id",
    "is_trace_id",
    "normalize_trace_id",
    "summarize",
    "trace_id_epoch",
]
