"""OTLP spans to X-Ray segment documents, as the Collector's X-Ray exporter writes them.

Each span becomes one document. A SERVER span, or one without a parent, becomes a segment; any
other an independent subsegment (``type: "subsegment"``, its ``trace_id``, ``parent_id`` = its
parent span id), which the assembler folds under its parent like any streamed subsegment. A span
with no end, or flagged ``aws.xray.inprogress`` (as the Collector's X-Ray receiver flags an
in-progress segment), is ``in_progress`` with no ``end_time``. Ids and times: ``_ids``; names:
``_names``; fields: the facets (``_http``, ``_aws``, ``_sql``, ``_cause``, ``_resource``,
``_annotations``, ``_fields``); and whatever the document cannot say is kept under
``metadata.otel`` (``_otel_diff``), found by reading the document back into a span and comparing.

Where this differs from the exporter: one span is always one document (the exporter splits
``aws.span.kind = LOCAL_ROOT`` client spans into a made-up segment and a subsegment); the
trace id's epoch part is never checked; resource attributes go to ``metadata.otel`` rather than
to ``metadata.default`` as ``otel.resource.<key>``, and only segments get ``origin``. Spans that
cannot become a document X-Ray accepts are refused with the reason, never dropped silently.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.errors import DocumentError
from fluoroscope.translate.otlp import (
    _annotations,
    _aws,
    _cause,
    _http,
    _otel_diff,
    _resource,
    _sql,
)
from fluoroscope.translate.otlp._fields import field_path, place
from fluoroscope.translate.otlp._from_xray import implied_resource, implied_span
from fluoroscope.translate.otlp._ids import seconds, xray_span_id, xray_trace_id
from fluoroscope.translate.otlp._names import AWS_API, segment_name, subsegment_name
from fluoroscope.translate.otlp._record import (
    ResourceRecord,
    ScopeRecord,
    SpanRecord,
    resource_from_proto,
    scope_from_proto,
    span_from_proto,
)
from fluoroscope.translate.otlp._values import boolean, string, strings, to_plain
from fluoroscope.translate.xray_json import MAX_DOCUMENT_BYTES

# X-Ray keeps at most 20 links per segment (developer guide); metadata.otel keeps them all.
log = logging.getLogger(__name__)

MAX_LINKS = 20
# What the Collector's X-Ray receiver writes for an in-progress segment, whose span it must end.
IN_PROGRESS = "aws.xray.inprogress"
_UNTRANSLATABLE = "the span could not be translated (the collector's log says why)"
_ZERO_SPAN = bytes(8)
_MESSAGING = (Span.SPAN_KIND_PRODUCER, Span.SPAN_KIND_CONSUMER)


@dataclass(frozen=True, slots=True)
class Translation:
    """Documents made from an export request, and the spans that could not become one.

    ``rejected`` holds ``(index, reason)`` for each refused span, ``index`` counting spans in
    request order across every resource and scope, as OTLP ``partial_success`` reports them.
    """

    documents: list[bytes] = field(default_factory=list)
    # (index of the span in the request, why it was refused)
    rejected: list[tuple[int, DocumentError]] = field(default_factory=list)
    # Per document: whether its span's flags carry the W3C sampled bit (an upstream decision).
    sampled: list[bool] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Resource:
    """What one ``ResourceSpans`` gives each of its spans, worked out once."""

    record: ResourceRecord
    segment_fields: dict[str, Any]
    language: str


# The sampled bit of the W3C trace flags, which OTLP keeps in the low byte of Span.flags.
_W3C_SAMPLED = 0x01


def spans_to_documents(
    request: ExportTraceServiceRequest, *, indexed_attributes: frozenset[str] = frozenset()
) -> Translation:
    """Translate every span of an OTLP export request into an X-Ray segment document.

    ``indexed_attributes`` names the attributes to index as annotations (the exporter's option
    of that name). Every document returned is one ``parse_document`` accepts.
    """
    documents: list[bytes] = []
    rejected: list[tuple[int, DocumentError]] = []
    sampled: list[bool] = []
    index = 0
    for resource_spans in request.resource_spans:
        record = resource_from_proto(resource_spans)
        resource = _Resource(
            record,
            _resource.segment_fields(record.attributes),
            string(record.attributes, "telemetry.sdk.language") or "",
        )
        for scope_spans in resource_spans.scope_spans:
            scope = scope_from_proto(scope_spans)
            for span in scope_spans.spans:
                try:
                    documents.append(_document(span, resource, scope, indexed_attributes))
                except DocumentError as exc:
                    rejected.append((index, exc))
                except Exception:  # a bug must cost this span only, never its request
                    log.exception("cannot translate span %d of an OTLP request", index)
                    rejected.append((index, DocumentError("InternalError", _UNTRANSLATABLE)))
                else:
                    sampled.append(bool(span.flags & _W3C_SAMPLED))
                index += 1
    return Translation(documents, rejected, sampled)


def _document(
    span: Span, resource: _Resource, scope: ScopeRecord, indexed: frozenset[str]
) -> bytes:
    record = span_from_proto(span)
    document = _skeleton(record, resource)
    is_segment = "type" not in document
    attributes = record.attributes
    consumed: list[str] = []
    if boolean(attributes, IN_PROGRESS) is True:
        consumed.append(IN_PROGRESS)

    http, used = _http.to_xray(attributes, record.kind)
    consumed += used
    if http is not None:
        document["http"] = http
    aws_sdk = string(attributes, "rpc.system") == AWS_API
    aws, used = _aws.to_xray(attributes, aws_sdk=aws_sdk)
    consumed += used
    if is_segment:
        # A copy: attributes may still set fields inside these blocks (_fields.place).
        fields = _copy(resource.segment_fields)
        document.update(fields)
        aws = {**fields.get("aws", {}), **aws}
    if aws:
        document["aws"] = aws
    sql, used = _sql.to_xray(attributes)
    consumed += used
    if sql is not None:
        document["sql"] = sql
    user = string(attributes, "enduser.id")
    if user is not None:
        document["user"] = user
        consumed.append("enduser.id")
    if not is_segment:
        namespace = _namespace(record, aws_sdk)
        if namespace is not None:
            document["namespace"] = namespace
            if namespace == "aws" and aws_sdk:
                consumed.append("rpc.system")
    http_status = http.get("response", {}).get("status") if http is not None else None
    raised_flags = _cause.flags(record.status_code, http_status)
    for flag, raised in zip(_cause.FLAGS, raised_flags, strict=True):
        if raised:
            document[flag] = True
    cause, used = _cause.to_xray(record, language=resource.language, aws_sdk=aws_sdk)
    consumed += used
    if cause is not None:
        document["cause"] = cause
    links = _links(record)
    if links:
        document["links"] = links

    annotations, annotated, renamed = _annotations.annotations(attributes, indexed)
    if annotations:
        document["annotations"] = annotations
    if strings(attributes, _annotations.ANNOTATIONS) is not None:
        consumed.append(_annotations.ANNOTATIONS)
    for key, value in attributes.items():
        path = field_path(key)
        if path is not None:
            ok, plain = to_plain(value)
            if ok and place(document, path, plain):
                consumed.append(key)
    metadata = _annotations.metadata(attributes, skip=annotated.union(consumed))
    if metadata:
        document["metadata"] = metadata

    otel = _describe(document, record, resource, scope, renamed)
    if otel:
        document.setdefault("metadata", {})[_annotations.OTEL_NAMESPACE] = otel
    data = orjson.dumps(document)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            "DocumentTooLarge",
            f"the span makes a {len(data)}-byte document; the limit is {MAX_DOCUMENT_BYTES}",
            document["id"],
        )
    return data


def _skeleton(record: SpanRecord, resource: _Resource) -> dict[str, Any]:
    """Ids, name, times and type; raises DocumentError for a span X-Ray cannot take."""
    entity_id = xray_span_id(record.span_id)
    trace_id = xray_trace_id(record.trace_id)
    parent = record.parent_span_id
    if parent and len(parent) != 8:
        raise DocumentError("InvalidParentId", f"parent_span_id is {len(parent)} bytes, not 8")
    if not record.start:
        raise DocumentError("MissingStartTime", "start_time_unix_nano is 0", entity_id)
    if record.end and record.end < record.start:
        raise DocumentError("InvalidEndTime", "end_time_unix_nano is before the start", entity_id)
    # An all-zero parent id is OTLP's "invalid": the span has no parent to point at.
    has_parent = bool(parent) and parent != _ZERO_SPAN
    is_segment = record.kind == Span.SPAN_KIND_SERVER or not has_parent
    if is_segment:
        name = segment_name(record.attributes, resource.record.attributes, record.kind)
    else:
        name = subsegment_name(record.attributes, record.kind, record.name)
    document: dict[str, Any] = {
        "id": entity_id,
        "name": name,
        "start_time": seconds(record.start),
        "trace_id": trace_id,
    }
    if has_parent:
        document["parent_id"] = parent.hex()
    if not is_segment:
        document["type"] = "subsegment"
    if record.end and boolean(record.attributes, IN_PROGRESS) is not True:
        document["end_time"] = seconds(record.end)
    else:
        document["in_progress"] = True
    return document


def _copy(value: Any) -> Any:
    """A copy of nested dicts and lists of plain values."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _namespace(record: SpanRecord, aws_sdk: bool) -> str | None:
    """The exporter's namespace: ``aws`` for an AWS SDK call, or for a span that ``aws.service``
    names (when no called service named it first); else ``remote`` for a CLIENT span, and for a
    PRODUCER or CONSUMER one only when ``aws.remote.service`` says what it talks to."""
    attributes = record.attributes
    kind = record.kind
    if aws_sdk:
        return "aws"
    named_before = "peer.service" in attributes or (
        kind != Span.SPAN_KIND_INTERNAL and "aws.remote.service" in attributes
    )
    if "aws.service" in attributes and not named_before:
        return "aws"
    if kind == Span.SPAN_KIND_CLIENT:
        return "remote"
    if kind in _MESSAGING and "aws.remote.service" in attributes:
        return "remote"
    return None


def _links(record: SpanRecord) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for link in record.links:
        if len(out) >= MAX_LINKS:
            break
        try:
            trace_id = xray_trace_id(bytes.fromhex(link.get("traceId", "")))
            span_id = xray_span_id(bytes.fromhex(link.get("spanId", "")))
        except DocumentError:
            continue  # kept in metadata.otel; X-Ray has no use for a link to nowhere
        entry: dict[str, Any] = {"trace_id": trace_id, "id": span_id}
        attributes = {}
        for item in link.get("attributes", ()):
            ok, plain = to_plain(item["value"])
            if ok:
                attributes[item["key"]] = plain
        if attributes:
            entry["attributes"] = attributes
        out.append(entry)
    return out


def _describe(
    document: dict[str, Any],
    record: SpanRecord,
    resource: _Resource,
    scope: ScopeRecord,
    renamed: dict[str, str],
) -> dict[str, Any]:
    """``metadata.otel``: the span against the span its document reads back as."""
    is_segment = "type" not in document
    implied_attributes, extras = implied_resource(document, is_segment=is_segment)
    parent = document.get("parent_id")
    implied = implied_span(
        document,
        trace_id=record.trace_id,
        parent_id=bytes.fromhex(parent) if parent else b"",
        is_segment=is_segment,
        language=resource.language,
        renamed=renamed,
        extras=extras,
    )
    return _otel_diff.describe(record, implied, resource.record, implied_attributes, scope, renamed)
