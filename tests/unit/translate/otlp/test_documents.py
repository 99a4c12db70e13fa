"""Reading documents as spans: trees, resources, metadata.otel, and refusals."""

import orjson
import pytest

from fluoroscope.errors import DocumentError
from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents

from .conftest import CONSUMER, END, PARENT, export_request


def spans_of(request):
    """Every span of a request with its resource's service.name (or None)."""
    out = []
    for resource_spans in request.resource_spans:
        names = [
            a.value.string_value
            for a in resource_spans.resource.attributes
            if a.key == "service.name"
        ]
        for scope_spans in resource_spans.scope_spans:
            out.extend((span, names[0] if names else None) for span in scope_spans.spans)
    return out


def test_embedded_subsegments_are_spans_under_the_entity_that_holds_them(make_document):
    """The parent of an embedded subsegment is its enclosing entity; its trace, the document's."""
    inner = {"id": "00000000000000c1", "name": "inner", "start_time": 1, "end_time": 2}
    outer = {
        "id": "00000000000000b1",
        "name": "outer",
        "start_time": 1,
        "end_time": 2,
        "subsegments": [inner],
    }
    document = make_document(subsegments=[outer])

    request = documents_to_spans([orjson.dumps(document)])

    spans = [span for span, _ in spans_of(request)]
    assert [(s.span_id.hex(), s.parent_span_id.hex()) for s in spans] == [
        (document["id"], ""),
        ("00000000000000b1", document["id"]),
        ("00000000000000c1", "00000000000000b1"),
    ]
    assert {s.trace_id for s in spans} == {bytes.fromhex(document["trace_id"][2:].replace("-", ""))}


def test_embedded_subsegments_share_their_segments_resource(make_document):
    """One ResourceSpans per resource: the segment's, named after it."""
    child = {"id": "00000000000000b1", "name": "child", "start_time": 1, "end_time": 2}

    request = documents_to_spans([orjson.dumps(make_document(subsegments=[child]))])

    assert len(request.resource_spans) == 1
    assert [service for _, service in spans_of(request)] == ["checkout", "checkout"]


def test_an_independent_subsegment_has_no_service_of_its_own(make_document):
    """Nothing in a subsegment names its service."""
    document = make_document(type="subsegment", parent_id=PARENT.hex())

    request = documents_to_spans([orjson.dumps(document)])

    assert [service for _, service in spans_of(request)] == [None]


def test_an_array_of_independent_subsegments_is_read_whole(make_document):
    """The PutTraceSegments model's array form."""
    subsegments = [
        make_document(type="subsegment", parent_id=PARENT.hex()),
        make_document(type="subsegment", parent_id=PARENT.hex()),
    ]

    request = documents_to_spans([orjson.dumps(subsegments)])

    assert len(spans_of(request)) == 2


def test_a_document_x_ray_would_refuse_is_refused(make_document):
    """Reading validates as PutTraceSegments does."""
    document = make_document(name="bad <name>")

    with pytest.raises(DocumentError) as refusal:
        documents_to_spans([orjson.dumps(document)])

    assert refusal.value.code == "InvalidName"


def test_a_document_from_an_x_ray_sdk_gains_no_otel_metadata(make_document):
    """Everything a plain document says, its span gives back."""
    document = make_document(http={"request": {"method": "GET"}}, annotations={"a": 1})

    request = documents_to_spans([orjson.dumps(document)])
    (back,) = spans_to_documents(request).documents

    assert orjson.loads(back) == document


def test_kind_links_scope_and_trace_state_come_back(make_span, to_span):
    """What X-Ray has no field for travels in metadata.otel."""
    span = make_span(kind=CONSUMER, parent_span_id=PARENT, trace_state="vendor=abc", flags=768)
    link = span.links.add(trace_id=bytes(range(16)), span_id=bytes(range(1, 9)), flags=256)
    link.attributes.add(key="k").value.string_value = "v"
    span.events.add(name="checkpoint", time_unix_nano=END)
    (document,) = spans_to_documents(export_request(span)).documents

    back = to_span(orjson.loads(document))

    assert back == span


def test_links_are_x_ray_links(make_span, to_document):
    """Span links become the document's links, ids in X-Ray's form."""
    span = make_span()
    span.links.add(trace_id=bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"), span_id=PARENT)

    document = to_document(span)

    assert document["links"] == [
        {"trace_id": "1-4bf92f35-77b34da6a3ce929d0e0e4736", "id": PARENT.hex()}
    ]


def test_otel_metadata_someone_else_wrote_is_ignored(make_document, to_span):
    """A metadata.otel namespace not of Fluoroscope's shape leaves the document to speak alone."""
    document = make_document(metadata={"otel": {"kind": "server", "events": 3}})

    span = to_span(document)

    assert (span.name, span.kind) == ("checkout", 2)


def test_otel_metadata_with_values_protobuf_refuses_is_ignored(make_document, to_span):
    """An attribute value out of int64 range cannot spoil the span."""
    bad = [{"key": "n", "value": {"intValue": "99999999999999999999"}}]
    document = make_document(metadata={"otel": {"name": "x", "attributes": bad}})

    span = to_span(document)

    assert (span.name, list(span.attributes)) == ("checkout", [])


def test_a_span_too_large_for_a_document_is_refused(make_span):
    """X-Ray's 64 KiB document limit; the reason says so."""
    span = make_span(attributes={"blob": "x" * 70_000})

    translation = spans_to_documents(export_request(span))

    assert translation.documents == []
    assert translation.rejected[0][1].code == "DocumentTooLarge"
