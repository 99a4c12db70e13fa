"""OTLP -> X-Ray -> OTLP on requests captured from the OpenTelemetry Python SDK.

Every semantic field of every span comes back exactly: ids, parent ids, names, kinds, times,
attributes, events, links, status, trace state, flags, dropped counts, resource and scope.
"""

import json

import orjson
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents
from fluoroscope.translate.xray_json import parse_document

from .conftest import OTLP_DIR

# Deliberately not kept, with the reason. Everything else must come back exactly.
LOSSY = {
    "attribute order": "attributes are a map (OTLP specification: keys are unique); documents "
    "hold them by key, so spans, resources and scopes are compared with attributes sorted",
    "ResourceSpans and ScopeSpans grouping": "each span comes back under its own resource and "
    "scope, and spans sharing both share one group, in order of first appearance",
    "Resource.entity_refs": "a development-stage field with no X-Ray field and no place in "
    "metadata.otel; the SDK does not send it",
    "a repeated attribute key": "the specification forbids it; the last value is kept",
    "an all-zero parent_span_id": "OTLP's invalid id; the span is a segment with no parent",
    "the sign and payload of a NaN double": 'OTLP/JSON writes every NaN as "NaN"',
    "presence of an empty status": "proto3 presence of a submessage, UNSET either way; spans "
    "always come back with one, as SDKs send them",
}


def flattened(request):
    """Every span with its resource and scope, attributes sorted (see LOSSY), in request order."""
    out = []
    for resource_spans in request.resource_spans:
        resource = (
            sorted_attributes(resource_spans.resource.attributes),
            resource_spans.resource.dropped_attributes_count,
            resource_spans.schema_url,
        )
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_fields = (
                scope.name,
                scope.version,
                sorted_attributes(scope.attributes),
                scope.dropped_attributes_count,
                scope_spans.schema_url,
            )
            for span in scope_spans.spans:
                copy = Span()
                copy.CopyFrom(span)
                del copy.attributes[:]
                copy.attributes.extend(sorted(span.attributes, key=lambda item: item.key))
                copy.status.SetInParent()
                out.append((copy, resource, scope_fields))
    return out


def sorted_attributes(attributes):
    """Attributes as (key, serialized value) pairs, sorted by key."""
    return sorted((item.key, item.value.SerializeToString()) for item in attributes)


def test_every_span_comes_back_exactly(captured):
    """Each captured span, its resource and its scope survive the round trip."""
    _, request = captured

    translation = spans_to_documents(request)
    back = documents_to_spans(translation.documents)

    assert flattened(back) == flattened(request)


def test_every_span_becomes_a_document(captured):
    """No captured span is refused."""
    _, request = captured

    translation = spans_to_documents(request)

    spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    assert (len(translation.documents), translation.rejected) == (spans, [])


def test_every_document_is_one_x_ray_accepts(captured):
    """parse_document accepts every document made from a captured request."""
    _, request = captured

    documents = spans_to_documents(request).documents

    assert all(parse_document(document) for document in documents)


def test_documents_match_the_reviewed_expectations(captured):
    """The documents are the ones reviewed by hand in <scenario>.expected.json."""
    name, request = captured
    expected = json.loads((OTLP_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))

    documents = [orjson.loads(document) for document in spans_to_documents(request).documents]

    assert documents == expected


def test_translating_twice_gives_the_same_bytes(captured):
    """Translation is deterministic: exception ids are derived, never drawn at random."""
    _, request = captured

    first = spans_to_documents(request).documents
    second = spans_to_documents(request).documents

    assert first == second
