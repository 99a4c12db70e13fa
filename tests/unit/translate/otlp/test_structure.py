"""Segments, subsegments and names: which span becomes what, and what it is called."""

import orjson
from hypothesis import given
from hypothesis import strategies as st

from fluoroscope.translate.otlp import sanitize_name
from fluoroscope.translate.xray_json import parse_document

from .conftest import CLIENT, CONSUMER, INTERNAL, PARENT, PRODUCER, SERVER, XRAY_TRACE_ID


def test_a_server_span_is_a_segment_named_after_its_service(make_span, to_document):
    """A SERVER span is a segment (no type) named after the resource's service.name."""
    document = to_document(make_span(kind=SERVER, parent_span_id=PARENT, name="GET /x"))

    assert "type" not in document
    assert document["name"] == "checkout"
    assert document["parent_id"] == PARENT.hex()


def test_a_parentless_span_is_a_segment(make_span, to_document):
    """A span with no parent is a segment whatever its kind."""
    document = to_document(make_span(kind=INTERNAL))

    assert "type" not in document


def test_a_child_span_is_an_independent_subsegment(make_span, to_document):
    """Any other span is an independent subsegment pointing at its parent."""
    document = to_document(make_span(kind=INTERNAL, parent_span_id=PARENT, name="compute"))

    assert (document["type"], document["parent_id"], document["trace_id"]) == (
        "subsegment",
        PARENT.hex(),
        XRAY_TRACE_ID,
    )
    assert document["name"] == "compute"


def test_aws_local_service_names_a_server_segment(make_span, to_document):
    """aws.local.service wins over service.name on SERVER spans, as in the exporter."""
    span = make_span(attributes={"aws.local.service": "checkout-api"})

    assert to_document(span)["name"] == "checkout-api"


def test_a_segment_without_a_service_name_is_unknown_service(make_span, to_document):
    """The OpenTelemetry SDK's name for a service that set none."""
    document = to_document(make_span(), resource={})

    assert document["name"] == "unknown_service"


def test_a_client_subsegment_is_named_after_its_peer(make_span, to_document):
    """server.address names a CLIENT subsegment when nothing earlier in the order does."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes={"server.address": "api.io"})

    assert to_document(span)["name"] == "api.io"


def test_peer_service_comes_before_the_peer_address(make_span, to_document):
    """The exporter's order: the called service before its address."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"server.address": "10.0.0.1", "peer.service": "inventory"},
    )

    assert to_document(span)["name"] == "inventory"


def test_an_aws_remote_service_loses_its_sdk_prefix(make_span, to_document):
    """AWS SDK spans drop the "AWS::" prefix of aws.remote.service."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"aws.remote.service": "AWS::DynamoDB", "rpc.system": "aws-api"},
    )

    assert to_document(span)["name"] == "DynamoDB"


def test_a_database_subsegment_is_named_database_at_host(make_span, to_document):
    """db.name@host, the host from the connection string or the peer."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"db.name": "orders", "db.connection_string": "jdbc:mysql://db.io:3306"},
    )

    assert to_document(span)["name"] == "orders@db.io"


def test_the_span_name_is_kept_when_the_document_is_named_otherwise(
    make_span, to_document, to_span
):
    """The span name travels in metadata.otel and comes back."""
    document = to_document(make_span(name="GET /orders/{id}"))

    assert document["metadata"]["otel"]["name"] == "GET /orders/{id}"
    assert to_span(document).name == "GET /orders/{id}"


def test_names_lose_the_characters_x_ray_refuses(make_span, to_document):
    """Characters outside X-Ray's set are removed, letters of any script kept."""
    span = make_span(kind=INTERNAL, parent_span_id=PARENT, name="résumé <v2>; ok?")

    assert to_document(span)["name"] == "résumé v2 ok"


def test_names_are_cut_to_two_hundred_characters():
    """X-Ray's limit."""
    assert len(sanitize_name("a" * 250)) == 200


def test_a_name_with_nothing_left_is_span(make_span, to_document):
    """The exporter's fallback for an empty name."""
    span = make_span(kind=INTERNAL, parent_span_id=PARENT, name="<>?")

    assert to_document(span)["name"] == "span"


@given(st.text(max_size=300))
def test_every_sanitised_name_is_one_x_ray_accepts(name):
    """A non-empty sanitised name always passes parse_document."""
    document = {
        "id": "0000000000000001",
        "trace_id": XRAY_TRACE_ID,
        "start_time": 1,
        "end_time": 2,
        "name": sanitize_name(name) or "span",
    }

    assert parse_document(orjson.dumps(document))


def test_client_subsegments_are_in_the_remote_namespace(make_span, to_document):
    """CLIENT calls are remote, as in the exporter."""
    document = to_document(make_span(kind=CLIENT, parent_span_id=PARENT))

    assert document["namespace"] == "remote"


def test_messaging_spans_are_remote_only_when_aws_remote_service_names_the_peer(
    make_span, to_documents
):
    """As in the exporter: a PRODUCER or CONSUMER span is a remote call only when
    ``aws.remote.service`` says what it talks to; naming a messaging system is not enough."""
    spans = [
        make_span(kind=PRODUCER, parent_span_id=PARENT, attributes={"messaging.system": "kafka"}),
        make_span(kind=PRODUCER, parent_span_id=PARENT, attributes={"aws.remote.service": "q"}),
        make_span(kind=CONSUMER, parent_span_id=PARENT, attributes={"aws.remote.service": "q"}),
    ]

    documents = to_documents(*spans)

    assert [document.get("namespace") for document in documents] == [None, "remote", "remote"]


def test_aws_service_makes_an_aws_call_unless_a_called_service_named_it(make_span, to_documents):
    """``aws.service`` names the span and puts it in ``aws``; with ``peer.service`` naming it
    first, a CLIENT call stays remote, under that name."""
    spans = [
        make_span(kind=CLIENT, parent_span_id=PARENT, attributes={"aws.service": "S3"}),
        make_span(
            kind=CLIENT,
            parent_span_id=PARENT,
            attributes={"aws.service": "S3", "peer.service": "assets-bucket"},
        ),
    ]

    documents = to_documents(*spans)

    assert [(d["name"], d["namespace"]) for d in documents] == [
        ("S3", "aws"),
        ("assets-bucket", "remote"),
    ]


def test_consumers_and_internal_spans_have_no_namespace(make_span, to_documents):
    """Only calls out are remote."""
    spans = [make_span(kind=kind, parent_span_id=PARENT) for kind in (CONSUMER, INTERNAL)]

    documents = to_documents(*spans)

    assert [document.get("namespace") for document in documents] == [None, None]


def test_segments_have_no_namespace(make_span, to_document):
    """A namespace is a subsegment's; a parentless CLIENT span is a segment without one."""
    document = to_document(make_span(kind=CLIENT))

    assert "namespace" not in document


def test_a_segment_reads_back_as_a_server_span(make_document, to_span):
    """Segments are SERVER spans, as the Collector's receiver reads them."""
    assert to_span(make_document()).kind == SERVER


def test_remote_and_aws_subsegments_read_back_as_client_spans(make_document, to_span):
    """Calls out are CLIENT spans."""
    kinds = [
        to_span(make_document(type="subsegment", parent_id=PARENT.hex(), namespace=namespace)).kind
        for namespace in ("remote", "aws")
    ]

    assert kinds == [CLIENT, CLIENT]


def test_other_subsegments_read_back_as_internal_spans_keeping_their_namespace(
    make_document, to_span
):
    """The SDK's "local" namespace is kept as aws.xray.namespace."""
    span = to_span(make_document(type="subsegment", parent_id=PARENT.hex(), namespace="local"))

    assert span.kind == INTERNAL
    assert {a.key: a.value.string_value for a in span.attributes} == {"aws.xray.namespace": "local"}
