"""``metadata.otel``: what a span has that the rest of its document does not give back.

A document made from a span is read back into a span (``_from_xray``) and compared with the
original; only the differences are written (by ``_otel_diff``), in OTLP/JSON form (camelCase
keys, int64 as strings, ids in hex), so that a document from an X-Ray SDK read as a span and
written again carries no ``otel`` namespace, and a span written and read again is the span it
was:

==========================  ================================================================
``name``, ``kind``          the span name and kind, when the document's differ
``startTimeUnixNano``,      exact times, when the document's float seconds do not give them
``endTimeUnixNano``         back
``traceState``, ``flags``,  as in OTLP, when set
``dropped*Count``
``attributes``              attributes the document does not give back as they were
``absentAttributes``        keys the document implies but the span did not have
``events``, ``links``       all of them, when they differ from what the document implies
``status``                  ``code`` and ``message``, when they differ
``resource``                ``attributes``/``absentAttributes`` against what the document
                            implies (nothing, for a subsegment), ``droppedAttributesCount``,
                            ``schemaUrl``
``scope``                   the instrumentation scope and its ``schemaUrl``
``annotationKeys``          ``{annotation key: attribute key}`` for renamed annotation keys
==========================  ================================================================

Reading ``metadata.otel`` never fails a document: a namespace that does not have this shape (one
someone else wrote) is ignored as a whole.
"""

from dataclasses import replace
from typing import Annotated, Any

import msgspec

from fluoroscope.translate.otlp._ids import seconds
from fluoroscope.translate.otlp._record import ResourceRecord, ScopeRecord, SpanRecord
from fluoroscope.translate.otlp._values import (
    Attributes,
    Value,
    attributes_from_key_values,
    is_value,
)

_UINT64_MAX = 2**64 - 1
_UINT64 = Annotated[int, msgspec.Meta(ge=0)]  # the upper bound is checked in _valid
_UINT32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
_DECIMAL = Annotated[str, msgspec.Meta(pattern=r"^\d{1,20}$")]


class _KeyValue(msgspec.Struct):
    key: str
    value: dict[str, Any] = {}


class _Event(msgspec.Struct, rename="camel"):
    time_unix_nano: _DECIMAL | _UINT64 = 0
    name: str = ""
    attributes: list[_KeyValue] = []
    dropped_attributes_count: _UINT32 = 0


class _Link(msgspec.Struct, rename="camel"):
    trace_id: Annotated[str, msgspec.Meta(pattern=r"^([0-9a-fA-F]{32})?$")] = ""
    span_id: Annotated[str, msgspec.Meta(pattern=r"^([0-9a-fA-F]{16})?$")] = ""
    trace_state: str = ""
    attributes: list[_KeyValue] = []
    dropped_attributes_count: _UINT32 = 0
    flags: _UINT32 = 0


class _Status(msgspec.Struct):
    code: Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)] = 0
    message: str = ""


class _Resource(msgspec.Struct, rename="camel"):
    attributes: list[_KeyValue] = []
    absent_attributes: list[str] = []
    dropped_attributes_count: _UINT32 = 0
    schema_url: str = ""


class _Scope(msgspec.Struct, rename="camel"):
    name: str = ""
    version: str = ""
    attributes: list[_KeyValue] = []
    dropped_attributes_count: _UINT32 = 0
    schema_url: str = ""


class Otel(msgspec.Struct, rename="camel"):
    """The ``otel`` metadata namespace, as read back."""

    name: str | None = None
    kind: Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)] | None = None
    start_time_unix_nano: _DECIMAL | _UINT64 | None = None
    end_time_unix_nano: _DECIMAL | _UINT64 | None = None
    trace_state: str = ""
    flags: _UINT32 = 0
    attributes: list[_KeyValue] = []
    absent_attributes: list[str] = []
    dropped_attributes_count: _UINT32 = 0
    events: list[_Event] | None = None
    dropped_events_count: _UINT32 = 0
    links: list[_Link] | None = None
    dropped_links_count: _UINT32 = 0
    status: _Status | None = None
    resource: _Resource | None = None
    scope: _Scope | None = None
    annotation_keys: dict[str, str] = {}


def read(namespace: Any) -> Otel | None:
    """The ``otel`` namespace of a document, if it has the shape ``_otel_diff`` writes."""
    if namespace is None:
        return None
    try:
        otel = msgspec.convert(namespace, Otel)
    except msgspec.ValidationError:
        return None
    return otel if _valid(otel) else None


def _valid(otel: Otel) -> bool:
    """Whether every value and time in ``otel`` is one protobuf takes."""
    lists = [otel.attributes]
    lists.extend(event.attributes for event in otel.events or ())
    lists.extend(link.attributes for link in otel.links or ())
    if otel.resource is not None:
        lists.append(otel.resource.attributes)
    if otel.scope is not None:
        lists.append(otel.scope.attributes)
    times = [otel.start_time_unix_nano, otel.end_time_unix_nano]
    times.extend(event.time_unix_nano for event in otel.events or ())
    return all(is_value(item.value) for items in lists for item in items) and all(
        time is None or int(time) <= _UINT64_MAX for time in times
    )


def apply_resource(otel: Otel | None, attributes: Attributes) -> ResourceRecord:
    """The resource a document implies (``attributes``) with ``otel``'s differences applied."""
    if otel is None or otel.resource is None:
        return ResourceRecord(attributes)
    kept = otel.resource
    return ResourceRecord(
        _apply_attributes(attributes, kept.attributes, kept.absent_attributes),
        kept.dropped_attributes_count,
        kept.schema_url,
    )


def apply_scope(otel: Otel | None) -> ScopeRecord:
    """The instrumentation scope ``otel`` records (the empty scope if none)."""
    if otel is None or otel.scope is None:
        return ScopeRecord()
    scope = otel.scope
    return ScopeRecord(
        scope.name,
        scope.version,
        attributes_from_key_values(msgspec.to_builtins(scope.attributes)),
        scope.dropped_attributes_count,
        scope.schema_url,
    )


def apply(
    otel: Otel | None, span: SpanRecord, start_time: float, end_time: float | None
) -> SpanRecord:
    """The span a document implies with ``otel``'s differences applied.

    Recorded times are used only while the document's own times still round to them, so that a
    document edited since cannot be contradicted by stale metadata; an in-progress document has no
    end time to contradict.
    """
    if otel is None:
        return span
    start = span.start
    if otel.start_time_unix_nano is not None:
        exact = int(otel.start_time_unix_nano)
        if seconds(exact) == start_time:
            start = exact
    end = span.end
    if otel.end_time_unix_nano is not None:
        exact = int(otel.end_time_unix_nano)
        # An in-progress document has no end to contradict: a span that had one was flagged
        # in progress (aws.xray.inprogress) and gets it back.
        if end_time is None or seconds(exact) == end_time:
            end = exact
    status_code, status_message = span.status_code, span.status_message
    if otel.status is not None:
        status_code, status_message = otel.status.code, otel.status.message
    return replace(
        span,
        name=otel.name if otel.name is not None else span.name,
        kind=otel.kind if otel.kind is not None else span.kind,
        start=start,
        end=end,
        attributes=_apply_attributes(span.attributes, otel.attributes, otel.absent_attributes),
        events=msgspec.to_builtins(otel.events) if otel.events is not None else span.events,
        links=msgspec.to_builtins(otel.links) if otel.links is not None else span.links,
        status_code=status_code,
        status_message=status_message,
        trace_state=otel.trace_state,
        flags=otel.flags,
        dropped_attributes_count=otel.dropped_attributes_count,
        dropped_events_count=otel.dropped_events_count,
        dropped_links_count=otel.dropped_links_count,
    )


def _apply_attributes(
    implied: Attributes, changed: list[_KeyValue], absent: list[str]
) -> dict[str, Value]:
    out = dict(implied)
    for key in absent:
        out.pop(key, None)
    for item in changed:
        out[item.key] = item.value
    return out
