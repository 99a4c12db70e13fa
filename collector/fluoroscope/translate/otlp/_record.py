"""Spans, resources and scopes as plain records, and their protobuf messages.

Both directions work on these records rather than on protobuf messages: attributes are held by
key in OTLP/JSON form (``_values``), events and links as OTLP/JSON objects with default fields
left out. Two records built from the same span therefore compare equal field by field, which is
what deciding "does the document give this back?" needs.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from fluoroscope.translate.otlp._values import (
    Attributes,
    Value,
    attributes_from_proto,
    fill_key_values,
    key_values,
    key_values_from_proto,
)


@dataclass(slots=True)
class SpanRecord:
    """One span's fields."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start: int
    end: int
    attributes: Attributes = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    status_code: int = 0
    status_message: str = ""
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0


@dataclass(slots=True)
class ResourceRecord:
    """A resource, with the schema URL its ``ResourceSpans`` carried."""

    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0
    schema_url: str = ""


@dataclass(slots=True)
class ScopeRecord:
    """An instrumentation scope, with the schema URL its ``ScopeSpans`` carried."""

    name: str = ""
    version: str = ""
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0
    schema_url: str = ""

    def to_json(self) -> dict[str, Any]:
        """The scope in OTLP/JSON form, with its ``schemaUrl``; default fields left out."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.version:
            out["version"] = self.version
        if self.attributes:
            out["attributes"] = key_values(self.attributes)
        if self.dropped_attributes_count:
            out["droppedAttributesCount"] = self.dropped_attributes_count
        if self.schema_url:
            out["schemaUrl"] = self.schema_url
        return out


def resource_from_proto(resource_spans: ResourceSpans) -> ResourceRecord:
    """The resource of a ``ResourceSpans``."""
    resource = resource_spans.resource
    return ResourceRecord(
        attributes_from_proto(resource.attributes),
        resource.dropped_attributes_count,
        resource_spans.schema_url,
    )


def scope_from_proto(scope_spans: ScopeSpans) -> ScopeRecord:
    """The instrumentation scope of a ``ScopeSpans``."""
    scope = scope_spans.scope
    return ScopeRecord(
        scope.name,
        scope.version,
        attributes_from_proto(scope.attributes),
        scope.dropped_attributes_count,
        scope_spans.schema_url,
    )


def span_from_proto(span: Span) -> SpanRecord:
    """A protobuf span as a record."""
    status = span.status
    return SpanRecord(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        start=span.start_time_unix_nano,
        end=span.end_time_unix_nano,
        attributes=attributes_from_proto(span.attributes),
        events=[
            event_json(
                event.time_unix_nano,
                event.name,
                key_values_from_proto(event.attributes),
                event.dropped_attributes_count,
            )
            for event in span.events
        ],
        links=[
            link_json(
                link.trace_id,
                link.span_id,
                key_values_from_proto(link.attributes),
                trace_state=link.trace_state,
                dropped_attributes_count=link.dropped_attributes_count,
                flags=link.flags,
            )
            for link in span.links
        ],
        status_code=status.code,
        status_message=status.message,
        trace_state=span.trace_state,
        flags=span.flags,
        dropped_attributes_count=span.dropped_attributes_count,
        dropped_events_count=span.dropped_events_count,
        dropped_links_count=span.dropped_links_count,
    )


def event_json(
    time_unix_nano: int,
    name: str,
    attributes: list[dict[str, Any]],
    dropped_attributes_count: int = 0,
) -> dict[str, Any]:
    """An OTLP/JSON span event, default fields left out."""
    out: dict[str, Any] = {}
    if time_unix_nano:
        out["timeUnixNano"] = str(time_unix_nano)
    if name:
        out["name"] = name
    if attributes:
        out["attributes"] = attributes
    if dropped_attributes_count:
        out["droppedAttributesCount"] = dropped_attributes_count
    return out


def link_json(
    trace_id: bytes,
    span_id: bytes,
    attributes: list[dict[str, Any]],
    *,
    trace_state: str = "",
    dropped_attributes_count: int = 0,
    flags: int = 0,
) -> dict[str, Any]:
    """An OTLP/JSON span link (ids in hex, as OTLP/JSON writes them), default fields left out."""
    out: dict[str, Any] = {}
    if trace_id:
        out["traceId"] = trace_id.hex()
    if span_id:
        out["spanId"] = span_id.hex()
    if trace_state:
        out["traceState"] = trace_state
    if attributes:
        out["attributes"] = attributes
    if dropped_attributes_count:
        out["droppedAttributesCount"] = dropped_attributes_count
    if flags:
        out["flags"] = flags
    return out


def fill_span(out: Span, record: SpanRecord) -> None:
    """Set a protobuf span from a record; raises ValueError for malformed events or links."""
    out.trace_id = record.trace_id
    out.span_id = record.span_id
    out.parent_span_id = record.parent_span_id
    out.name = record.name
    out.kind = record.kind  # type: ignore[assignment]  # open enum: unknown kinds pass through
    out.start_time_unix_nano = record.start
    out.end_time_unix_nano = record.end
    fill_key_values(out.attributes.add, key_values(record.attributes))
    for event in record.events:
        fill_event(out.events.add(), event)
    for link in record.links:
        fill_link(out.links.add(), link)
    # Always present, as OpenTelemetry SDKs send it; an empty status is UNSET either way.
    out.status.SetInParent()
    out.status.code = record.status_code  # type: ignore[assignment]  # open enum, as kind
    out.status.message = record.status_message
    out.trace_state = record.trace_state
    out.flags = record.flags
    out.dropped_attributes_count = record.dropped_attributes_count
    out.dropped_events_count = record.dropped_events_count
    out.dropped_links_count = record.dropped_links_count


def fill_event(out: Span.Event, event: Mapping[str, Any]) -> None:
    """Set a protobuf span event from its OTLP/JSON form."""
    out.time_unix_nano = int(event.get("timeUnixNano", 0))
    out.name = event.get("name", "")
    fill_key_values(out.attributes.add, event.get("attributes", ()))
    out.dropped_attributes_count = event.get("droppedAttributesCount", 0)


def fill_link(out: Span.Link, link: Mapping[str, Any]) -> None:
    """Set a protobuf span link from its OTLP/JSON form."""
    out.trace_id = bytes.fromhex(link.get("traceId", ""))
    out.span_id = bytes.fromhex(link.get("spanId", ""))
    out.trace_state = link.get("traceState", "")
    fill_key_values(out.attributes.add, link.get("attributes", ()))
    out.dropped_attributes_count = link.get("droppedAttributesCount", 0)
    out.flags = link.get("flags", 0)


def resource_key(resource: ResourceRecord) -> tuple[Any, ...]:
    """What makes two resources the same, for grouping spans under one ``ResourceSpans``."""
    return (_frozen(resource.attributes), resource.dropped_attributes_count, resource.schema_url)


def scope_key(scope: ScopeRecord) -> tuple[Any, ...]:
    """What makes two scopes the same, for grouping spans under one ``ScopeSpans``."""
    return (
        scope.name,
        scope.version,
        _frozen(scope.attributes),
        scope.dropped_attributes_count,
        scope.schema_url,
    )


def _frozen(attributes: Mapping[str, Value]) -> str:
    # repr() of the sorted items is a stable, hashable identity for nested JSON values.
    return repr(sorted(attributes.items()))
