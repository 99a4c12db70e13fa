"""Any span, however odd, becomes a valid document and comes back exactly (or is refused)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents
from fluoroscope.translate.xray_json import parse_document

from .conftest import START, TRACE_ID, export_request, set_attributes
from .test_round_trip_otlp import flattened

# Keys the facets read, so that generated spans exercise them, plus anything at all.
KEYS = st.sampled_from(
    [
        "http.request.method",
        "http.method",
        "url.full",
        "http.url",
        "url.scheme",
        "url.path",
        "server.address",
        "server.port",
        "client.address",
        "http.client_ip",
        "http.response.status_code",
        "http.status_code",
        "db.system",
        "db.statement",
        "db.connection_string",
        "db.name",
        "rpc.system",
        "rpc.method",
        "aws.region",
        "aws.dynamodb.table_names",
        "enduser.id",
        "peer.service",
        "aws.xray.annotations",
        "aws.xray.metadata.debug",
        "aws.xray.metadata.otel",
        "aws.xray.namespace",
        "aws.xray.fault",
        "aws.xray.cause",
        "aws.xray.http.request.traced",
        "aws.xray.id",
        "customer.id",
    ]
) | st.text(max_size=12)
SCALARS = (
    st.text(max_size=20)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    # NaN only as Python's own: its sign and payload are not kept (test_round_trip_otlp.LOSSY).
    | st.floats(allow_nan=False)
    | st.just(math.nan)
    | st.booleans()
    | st.binary(max_size=8)
    | st.sampled_from(["aws-api", "postgresql", "GET", '{"a": 1}', "0123456789abcdef"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def spans(draw):
    """A span with random kind, parent, times, attributes, events, links and status."""
    span = Span(
        trace_id=TRACE_ID,
        span_id=draw(st.binary(min_size=8, max_size=8).filter(any)),
        parent_span_id=draw(st.sampled_from([b"", b"\x00" * 7 + b"\x01"])),
        name=draw(st.text(max_size=30)),
        kind=draw(st.integers(min_value=0, max_value=5)),
        start_time_unix_nano=START + draw(st.integers(min_value=0, max_value=10**9)),
    )
    span.end_time_unix_nano = draw(
        st.sampled_from([0, span.start_time_unix_nano + draw(st.integers(0, 10**9))])
    )
    set_attributes(span.attributes, draw(st.dictionaries(KEYS, VALUES, max_size=8)))
    for name in draw(st.lists(st.sampled_from(["exception", "log", ""]), max_size=2)):
        event = span.events.add(name=name, time_unix_nano=START)
        set_attributes(
            event.attributes,
            draw(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "exception.type",
                            "exception.message",
                            "exception.stacktrace",
                            "aws.xray.exception.id",
                            "aws.xray.exception.remote",
                        ]
                    ),
                    SCALARS,
                    max_size=3,
                )
            ),
        )
    if draw(st.booleans()):
        span.links.add(trace_id=draw(st.binary(min_size=16, max_size=16)), span_id=b"\x02" * 8)
    span.status.SetInParent()
    span.status.code = draw(st.integers(min_value=0, max_value=2))
    span.status.message = draw(st.text(max_size=10))
    return span


def comparable(flat):
    """Flattened spans as bytes, since a NaN double is unequal to itself but not to its bytes."""
    return [
        (span.SerializeToString(deterministic=True), resource, scope)
        for span, resource, scope in flat
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=3))
def test_any_span_survives_the_round_trip(generated):
    """Documents parse, nothing is refused, and every span comes back as it was."""
    request = export_request(*generated, resource={"service.name": "svc", "x": math.pi})

    translation = spans_to_documents(request, indexed_attributes=frozenset({"customer.id"}))

    assert translation.rejected == []
    for document in translation.documents:
        parse_document(document)
    back = documents_to_spans(translation.documents)
    assert comparable(flattened(back)) == comparable(flattened(request))
