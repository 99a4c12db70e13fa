"""The one data model: a typed view over X-Ray segment documents, and the trace built from them.

Stdlib and msgspec only. Everything past the receivers speaks these types; nothing here knows
sockets or SQL.
"""

from fluoroscope.model.ids import (
    is_entity_id,
    is_trace_id,
    normalize_trace_id,
    trace_id_epoch,
)
from fluoroscope.model.segment import AnnotationValue, Document, ExceptionInfo, Segment
from fluoroscope.model.services import ServiceId
from fluoroscope.model.summary import TraceSummary, summarize
from fluoroscope.model.trace import Completeness, TraceTree

__all__ = [
    "AnnotationValue",
    "Completeness",
    "Document",
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
