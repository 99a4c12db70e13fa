"""X-Ray segment documents to OTLP spans, as the Collector's X-Ray receiver reads them.

Every segment and subsegment, embedded or sent on its own, becomes one span: ids and times carry
over (``_ids``), an embedded subsegment's parent is the entity it is embedded in, and its trace
is its document's. A segment is a SERVER span; a subsegment in the ``aws`` or ``remote``
namespace a CLIENT span; any other an INTERNAL span. The facets give the attributes, status,
events and resource (``_http``, ``_aws``, ``_sql``, ``_cause``, ``_annotations``,
``_resource``); fields no facet maps travel as ``aws.xray.<path>`` attributes (``_fields``); and
``metadata.otel`` (``_otel``), where a document made from a span carries it, restores what OTLP
had and X-Ray could not say.

A segment's resource is made from its own fields; a subsegment embedded in it shares it; an
independent subsegment has only what its ``metadata.otel`` records. Spans sharing a resource and
scope share a ``ResourceSpans`` and ``ScopeSpans``, in order of first appearance.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from fluoroscope.model.ids import is_entity_id, is_trace_id
from fluoroscope.translate import json_codec
from fluoroscope.translate.otlp import _annotations, _aws, _cause, _http, _otel, _resource, _sql
from fluoroscope.translate.otlp._fields import attribute_name
from fluoroscope.translate.otlp._ids import nanos, otel_span_id, otel_trace_id
from fluoroscope.translate.otlp._names import AWS_API
from fluoroscope.translate.otlp._record import (
    ResourceRecord,
    ScopeRecord,
    SpanRecord,
    fill_span,
    link_json,
    resource_key,
    scope_key,
)
from fluoroscope.translate.otlp._values import (
    Attributes,
    fill_key_values,
    from_plain,
    key_values,
    string,
)
from fluoroscope.translate.xray_json import parse_document

_CALL_NAMESPACES = ("aws", "remote")
# Top-level fields some facet reads; any other field travels as aws.xray.<field>.
_READ = frozenset(
    {
        "id",
        "name",
        "trace_id",
        "parent_id",
        "type",
        "start_time",
        "end_time",
        "in_progress",
        "subsegments",
        "metadata",
        "annotations",
        "http",
        "aws",
        "sql",
        "user",
        "namespace",
        "cause",
        "fault",
        "error",
        "throttle",
        "links",
    }
)
_SEGMENT_READ = _READ | {"origin", "service", "resource_arn"}
_LINK_FIELDS = frozenset({"trace_id", "id", "attributes"})

Extras = dict[tuple[str, ...], Any]


def documents_to_spans(documents: list[bytes]) -> ExportTraceServiceRequest:
    """Read X-Ray segment documents as one OTLP export request.

    Each document is validated as PutTraceSegments would validate it; one that X-Ray would
    refuse raises :class:`~fluoroscope.errors.DocumentError`.
    """
    request = ExportTraceServiceRequest()
    groups: dict[tuple[Any, ...], tuple[ResourceSpans, dict[tuple[Any, ...], ScopeSpans]]] = {}
    for data in documents:
        parse_document(data)
        body = json_codec.loads(data)
        for top in body if isinstance(body, list) else [body]:
            for record, resource, scope in _spans(top):
                resource_spans, scopes = _group(request, groups, resource)
                fill_span(_scope_group(resource_spans, scopes, scope).spans.add(), record)
    return request


def implied_resource(entity: Mapping[str, Any], *, is_segment: bool) -> tuple[Attributes, Extras]:
    """The resource attributes a top-level entity's own fields imply, and fields they cannot hold.

    Only segments imply a resource; the extras are to be passed on to :func:`implied_span`.
    """
    extras: Extras = {}
    if not is_segment:
        return {}, extras
    return _resource.from_xray(entity, extras), extras


def implied_span(
    entity: Mapping[str, Any],
    *,
    trace_id: bytes,
    parent_id: bytes,
    is_segment: bool,
    language: str,
    renamed: Mapping[str, str],
    extras: Extras,
) -> SpanRecord:
    """The span an entity's own fields imply, before ``metadata.otel`` is applied."""
    namespace = entity.get("namespace")
    if is_segment:
        kind = Span.SPAN_KIND_SERVER
    elif namespace in _CALL_NAMESPACES:
        kind = Span.SPAN_KIND_CLIENT
    else:
        kind = Span.SPAN_KIND_INTERNAL
    start = nanos(entity["start_time"])
    end = 0 if entity.get("in_progress") is True else nanos(entity["end_time"])
    attributes: Attributes = {}
    extras = dict(extras)

    # Lowest precedence first: metadata, then fields, then annotations.
    metadata = entity.get("metadata")
    if isinstance(metadata, dict):
        _annotations.metadata_from_xray(metadata, attributes)
    read = _SEGMENT_READ if is_segment else _READ
    for key, value in entity.items():
        if key not in read:
            extras[(key,)] = value
    if "http" in entity:
        _http.from_xray(entity["http"], attributes, extras)
    aws = entity.get("aws")
    if isinstance(aws, dict):
        _aws.from_xray(
            aws,
            attributes,
            extras,
            aws_sdk=not is_segment and namespace == "aws",
            skip=_resource.SEGMENT_AWS_FIELDS if is_segment else frozenset(),
        )
    elif aws is not None:
        extras[("aws",)] = aws
    if "sql" in entity:
        _sql.from_xray(entity["sql"], attributes, extras)
    user = entity.get("user")
    if isinstance(user, str):
        attributes["enduser.id"] = {"stringValue": user}
    elif "user" in entity:
        extras[("user",)] = user
    if namespace is not None:
        if is_segment or namespace not in _CALL_NAMESPACES:
            extras[("namespace",)] = namespace
        elif namespace == "aws":
            attributes["rpc.system"] = {"stringValue": AWS_API}
    links = None
    if "links" in entity:
        links = _links(entity["links"])
        if links is None:
            extras[("links",)] = entity["links"]
    http_status = _http_status(entity.get("http"))
    status, events = _cause.from_xray(
        entity,
        kind=kind,
        time=end or start,
        language=language,
        http_status=http_status,
        extras=extras,
    )
    for path, value in extras.items():
        attributes[attribute_name(path)] = from_plain(value)
    annotations = entity.get("annotations")
    if isinstance(annotations, dict):
        _annotations.annotations_from_xray(annotations, renamed, attributes)

    return SpanRecord(
        trace_id=trace_id,
        span_id=otel_span_id(entity["id"]),
        parent_span_id=parent_id,
        name=entity["name"],
        kind=kind,
        start=start,
        end=end,
        attributes=attributes,
        events=events,
        links=links or [],
        status_code=status,
    )


def _spans(top: dict[str, Any]) -> Iterator[tuple[SpanRecord, ResourceRecord, ScopeRecord]]:
    """Every entity of a top-level document, depth first, with its resource and scope."""
    trace_id = otel_trace_id(top["trace_id"])
    parent = top.get("parent_id")
    stack: list[tuple[dict[str, Any], bytes, bool, ResourceRecord | None]] = [
        (top, otel_span_id(parent) if parent else b"", top.get("type") != "subsegment", None)
    ]
    while stack:
        entity, parent_id, is_segment, inherited = stack.pop()
        record, resource, scope = _span(entity, trace_id, parent_id, is_segment, inherited)
        yield record, resource, scope
        children = entity.get("subsegments") or []
        stack.extend((child, record.span_id, False, resource) for child in reversed(children))


def _span(
    entity: dict[str, Any],
    trace_id: bytes,
    parent_id: bytes,
    is_segment: bool,
    inherited: ResourceRecord | None,
) -> tuple[SpanRecord, ResourceRecord, ScopeRecord]:
    """One entity's span, resource and scope."""
    metadata = entity.get("metadata")
    otel = None
    if isinstance(metadata, dict):
        otel = _otel.read(metadata.get(_annotations.OTEL_NAMESPACE))
    attributes, extras = implied_resource(entity, is_segment=is_segment)
    if not is_segment and inherited is not None and (otel is None or otel.resource is None):
        resource = inherited
    else:
        resource = _otel.apply_resource(otel, attributes)
    span = implied_span(
        entity,
        trace_id=trace_id,
        parent_id=parent_id,
        is_segment=is_segment,
        language=string(resource.attributes, "telemetry.sdk.language") or "",
        renamed=otel.annotation_keys if otel is not None else {},
        extras=extras,
    )
    start, end = entity["start_time"], entity.get("end_time")
    span = _otel.apply(otel, span, start, None if entity.get("in_progress") is True else end)
    return span, resource, _otel.apply_scope(otel)


def _links(value: Any) -> list[dict[str, Any]] | None:
    """X-Ray ``links`` as OTLP/JSON links, or None if any of them is not of the expected shape."""
    if not isinstance(value, list):
        return None
    out = []
    for link in value:
        if not isinstance(link, dict) or not link.keys() <= _LINK_FIELDS:
            return None
        trace_id, span_id = link.get("trace_id"), link.get("id")
        attributes = link.get("attributes", {})
        if not (
            isinstance(trace_id, str)
            and is_trace_id(trace_id)
            and isinstance(span_id, str)
            and is_entity_id(span_id)
            and isinstance(attributes, dict)
        ):
            return None
        out.append(
            link_json(
                otel_trace_id(trace_id),
                otel_span_id(span_id),
                key_values({key: from_plain(item) for key, item in attributes.items()}),
            )
        )
    return out


def _http_status(http: Any) -> int | None:
    if not isinstance(http, dict) or not isinstance(http.get("response"), dict):
        return None
    status = http["response"].get("status")
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _group(
    request: ExportTraceServiceRequest,
    groups: dict[tuple[Any, ...], tuple[ResourceSpans, dict[tuple[Any, ...], ScopeSpans]]],
    resource: ResourceRecord,
) -> tuple[ResourceSpans, dict[tuple[Any, ...], ScopeSpans]]:
    key = resource_key(resource)
    group = groups.get(key)
    if group is None:
        resource_spans = request.resource_spans.add()
        resource_spans.resource.SetInParent()
        fill_key_values(resource_spans.resource.attributes.add, key_values(resource.attributes))
        resource_spans.resource.dropped_attributes_count = resource.dropped_attributes_count
        resource_spans.schema_url = resource.schema_url
        group = groups[key] = (resource_spans, {})
    return group


def _scope_group(
    resource_spans: ResourceSpans, scopes: dict[tuple[Any, ...], ScopeSpans], scope: ScopeRecord
) -> ScopeSpans:
    key = scope_key(scope)
    scope_spans = scopes.get(key)
    if scope_spans is None:
        scope_spans = scopes[key] = resource_spans.scope_spans.add()
        scope_spans.scope.SetInParent()
        scope_spans.scope.name = scope.name
        scope_spans.scope.version = scope.version
        fill_key_values(scope_spans.scope.attributes.add, key_values(scope.attributes))
        scope_spans.scope.dropped_attributes_count = scope.dropped_attributes_count
        scope_spans.schema_url = scope.schema_url
    return scope_spans
