"""OTLP in: the real opentelemetry-sdk exporters, over gRPC and HTTP, against a real collector."""

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace import Status as SpanStatus
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.compat.process import Collector
from tests.compat.queries import documents, eventually, wait_for_trace

PROPAGATOR = TraceContextTextMapPropagator()
# Hand-built spans start now, with trace ids minted now: the hours other tests read back
# with GetTraceSummaries (tests.compat.documents.new_window) lie days in the past.
NOW_S = int(time.time())
NOW_NS = NOW_S * 10**9
EPOCH = f"{NOW_S:08x}"


@pytest.fixture
def providers() -> Iterator[Callable[[str, Any], Any]]:
    """Tracer providers for named services, shut down afterwards."""
    made: list[TracerProvider] = []

    def make(service: str, exporter: Any) -> Any:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        made.append(provider)
        return provider.get_tracer("compat")

    yield make
    for provider in made:
        provider.shutdown()


def _two_services(frontend: Any, backend: Any, fail: bool) -> str:
    """frontend SERVER -> CLIENT -> backend SERVER, the context carried in traceparent."""
    with frontend.start_as_current_span("GET /order", kind=SpanKind.SERVER) as entry:
        entry.set_attribute("http.request.method", "GET")
        entry.set_attribute("url.full", "http://frontend.example.com/order")
        entry.set_attribute("http.response.status_code", 500 if fail else 200)
        with frontend.start_as_current_span("POST", kind=SpanKind.CLIENT) as call:
            call.set_attribute("http.request.method", "POST")
            call.set_attribute("url.full", "http://backend.example.com/charge")
            call.set_attribute("server.address", "backend.example.com")
            carrier: dict[str, str] = {}
            PROPAGATOR.inject(carrier)
            with backend.start_as_current_span(
                "POST /charge", kind=SpanKind.SERVER, context=PROPAGATOR.extract(carrier)
            ) as served:
                if fail:
                    served.set_status(SpanStatus(StatusCode.ERROR, "card declined"))
                    served.set_attribute("http.response.status_code", 502)
        trace_id = entry.get_span_context().trace_id
    hexed = f"{trace_id:032x}"
    return f"1-{hexed[:8]}-{hexed[8:]}"


def _services(client: Any, trace_id: str) -> set[str]:
    return {item["Name"] for item in client.get_trace_graph(TraceIds=[trace_id])["Services"]}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_two_services_make_one_trace_with_an_edge_and_a_fault(
    collector: Collector, xray: Any, providers: Callable[[str, Any], Any], transport: str
) -> None:
    """Context propagation joins the services; the error status is a fault."""

    def exporter() -> Any:
        if transport == "grpc":
            return GrpcExporter(endpoint=collector.otlp_grpc, insecure=True)
        return HttpExporter(endpoint=collector.otlp_http)

    frontend = providers(f"frontend-{transport}", exporter())
    backend = providers(f"backend-{transport}", exporter())

    trace_id = _two_services(frontend, backend, fail=True)

    trace = wait_for_trace(xray, trace_id, lambda t: len(documents(t)) == 2)
    names = {document["name"] for document in documents(trace)}
    assert names == {f"frontend-{transport}", f"backend-{transport}"}
    nodes = {
        s["Name"]: s
        for s in xray.get_trace_graph(TraceIds=[trace_id])["Services"]
        if s.get("Type") != "client"
    }
    frontend_node = nodes[f"frontend-{transport}"]
    backend_ids = [s["ReferenceId"] for s in nodes.values() if s["Name"] == f"backend-{transport}"]
    assert any(edge["ReferenceId"] in backend_ids for edge in frontend_node["Edges"])
    backend_node = nodes[f"backend-{transport}"]
    assert backend_node["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1


def test_an_xray_sdk_service_and_an_otel_service_share_one_trace(
    collector: Collector, xray: Any, providers: Callable[[str, Any], Any], make_recorder: Any
) -> None:
    """X-Ray SDK -> traceparent -> OpenTelemetry: one trace, both services on the graph."""
    recorder = make_recorder(collector)
    otel = providers("otel-backend", GrpcExporter(endpoint=collector.otlp_grpc, insecure=True))
    segment = recorder.begin_segment("xray-frontend")
    call = recorder.begin_subsegment("otel-backend", "remote")
    root = segment.trace_id
    traceparent = f"00-{root[2:10]}{root[11:]}-{call.id}-01"
    context = PROPAGATOR.extract({"traceparent": traceparent})
    with otel.start_as_current_span("GET /stock", kind=SpanKind.SERVER, context=context):
        pass
    recorder.end_subsegment()
    recorder.end_segment()

    trace = wait_for_trace(xray, root, lambda t: len(documents(t)) == 2)

    assert {d["name"] for d in documents(trace)} == {"xray-frontend", "otel-backend"}
    assert _services(xray, root) >= {"xray-frontend", "otel-backend"}


def _raw_grpc(collector: Collector, body: bytes, metadata: Any = None) -> Any:
    with grpc.insecure_channel(collector.otlp_grpc) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        return export(body, timeout=10, metadata=metadata)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _json_request(trace_hex: str, span_hex: str, name: str) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": name}}]},
        "scopeSpans": [{"spans": [{"traceId": trace_hex, "spanId": span_hex, "name": "GET /",
                                   "kind": 2, "startTimeUnixNano": str(NOW_NS),
                                   "endTimeUnixNano": str(NOW_NS + 500_000_000)}]}]}]}  # fmt: skip


def test_malformed_grpc_is_invalid_argument(collector: Collector) -> None:
    """Bytes that are not an ExportTraceServiceRequest are INVALID_ARGUMENT."""
    with pytest.raises(grpc.RpcError) as caught:
        _raw_grpc(collector, b"\xff\xff\xff\xff garbage")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"\xff\xff\xff garbage", {"Content-Type": "application/x-protobuf"}),
        (b"{not json", {"Content-Type": "application/json"}),
        (b"not gzip", {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
         {"Content-Type": "application/json"}),
    ],
)  # fmt: skip
def test_malformed_http_bodies_are_400_and_valid_traffic_continues(
    collector: Collector, xray: Any, body: bytes, headers: dict[str, str]
) -> None:
    """Each malformed body is refused with a google.rpc.Status in the request's encoding (the
    OTLP/HTTP specification); the next valid request is stored."""
    status, answer = _post(collector.otlp_http, body, headers)
    if headers["Content-Type"] == "application/json":
        refusal = json.loads(answer)
        assert (refusal["code"], bool(refusal["message"])) == (3, True)  # INVALID_ARGUMENT
    else:
        refusal = Status.FromString(answer)
        assert (refusal.code, bool(refusal.message)) == (3, True)
    trace_hex = EPOCH + "c" * 23 + "1"
    request = json.dumps(_json_request(trace_hex, "00000000000000a1", "after-garbage")).encode()
    ok, reply = _post(collector.otlp_http, request, {"Content-Type": "application/json"})

    assert status == 400
    assert ok == 200
    assert json.loads(reply) == {} or "partialSuccess" not in json.loads(reply)
    wait_for_trace(xray, f"1-{trace_hex[:8]}-{trace_hex[8:]}")


def test_gzipped_json_is_accepted(collector: Collector, xray: Any) -> None:
    """OTLP/JSON, gzip-compressed, with hex ids."""
    trace_hex = EPOCH + "d" * 23 + "2"
    body = gzip.compress(json.dumps(_json_request(trace_hex, "00000000000000b2", "gz")).encode())

    status, _ = _post(
        collector.otlp_http,
        body,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )

    assert status == 200
    trace = wait_for_trace(xray, f"1-{trace_hex[:8]}-{trace_hex[8:]}")
    assert documents(trace)[0]["name"] == "gz"


def test_spans_that_cannot_be_translated_are_reported_in_partial_success(
    collector: Collector,
) -> None:
    """A span with an all-zero trace id is rejected; the others are kept."""
    good = _json_request(EPOCH + "e" * 24, "00000000000000c3", "kept")
    bad = _json_request("0" * 32, "00000000000000c4", "refused")
    good["resourceSpans"] += bad["resourceSpans"]

    status, reply = _post(
        collector.otlp_http, json.dumps(good).encode(), {"Content-Type": "application/json"}
    )

    assert status == 200
    partial = json.loads(reply)["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1
    assert partial["errorMessage"]


def test_protobuf_partial_success_over_grpc(collector: Collector) -> None:
    """The gRPC answer carries partial_success too."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for trace_id in (bytes(16), bytes.fromhex(EPOCH + "f" * 24)):
        span = spans.spans.add()
        span.trace_id = trace_id
        span.span_id = bytes.fromhex("00000000000000d5")
        span.name = "x"
        span.start_time_unix_nano = NOW_NS
        span.end_time_unix_nano = NOW_NS + 100_000_000

    reply = _raw_grpc(collector, request.SerializeToString())

    assert reply.partial_success.rejected_spans == 1


def test_a_bearer_token_is_required_when_configured(
    make_collector: Callable[..., Collector],
) -> None:
    """Without the token: 401 over HTTP, UNAUTHENTICATED over gRPC; with it, accepted."""
    collector = make_collector(FLUOROSCOPE_OTLP_BEARER_TOKEN="s3cret")
    body = json.dumps(_json_request(EPOCH + "a" * 24, "00000000000000e6", "t")).encode()

    denied, _ = _post(collector.otlp_http, body, {"Content-Type": "application/json"})
    # A header may carry any byte; a token that is not ASCII is just a wrong token.
    not_ascii, _ = _post(
        collector.otlp_http,
        body,
        {"Content-Type": "application/json", "Authorization": "Bearer s\xe9cret"},
    )
    allowed, _ = _post(
        collector.otlp_http,
        body,
        {"Content-Type": "application/json", "Authorization": "Bearer s3cret"},
    )
    with pytest.raises(grpc.RpcError) as caught:
        _raw_grpc(collector, ExportTraceServiceRequest().SerializeToString())

    assert denied == 401
    assert not_ascii == 401
    assert allowed == 200
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reply = _raw_grpc(
        collector,
        ExportTraceServiceRequest().SerializeToString(),
        metadata=(("authorization", "Bearer s3cret"),),
    )
    assert reply.partial_success.rejected_spans == 0


def test_otlp_counters_appear_on_metrics(collector: Collector) -> None:
    """Spans received over OTLP are counted by transport."""
    eventually(
        lambda: (
            True
            if collector.metrics().value("fluoroscope_otlp_spans_received_total", transport="http")
            > 0
            else None
        ),
        "OTLP counters",
    )


def _span_request(traces: list[str], attributes: dict[str, str]) -> ExportTraceServiceRequest:
    """One SERVER span per trace id (hex), each with the same string attributes."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    service = resource_spans.resource.attributes.add()
    service.key = "service.name"
    service.value.string_value = "bulk"
    spans = resource_spans.scope_spans.add().spans
    for number, trace_hex in enumerate(traces, 1):
        span = spans.add()
        span.trace_id = bytes.fromhex(trace_hex)
        span.span_id = number.to_bytes(8, "big")
        span.name = "GET /"
        span.kind = 2  # SERVER
        span.start_time_unix_nano = NOW_NS
        span.end_time_unix_nano = NOW_NS + 100_000_000
        for key, value in attributes.items():
            attribute = span.attributes.add()
            attribute.key = key
            attribute.value.string_value = value
    return request


def test_a_request_larger_than_the_pipeline_queue_is_stored_whole(
    make_collector: Callable[..., Collector],
) -> None:
    """A request translated into more than the queue's limits still gets in when the queue is
    empty; refusing it would make its sender retry the same request forever."""
    collector = make_collector(
        FLUOROSCOPE_QUEUE_MAX_BYTES=str(1 << 20), FLUOROSCOPE_QUEUE_MAX_DOCUMENTS="100"
    )
    traces = [EPOCH + f"{number:024x}" for number in range(1, 2001)]
    request = _span_request(traces, {"padding": "p" * 600})

    status, _ = _post(
        collector.otlp_http,
        request.SerializeToString(),
        {"Content-Type": "application/x-protobuf"},
    )

    assert status == 200
    eventually(
        lambda: (
            True
            if collector.metrics().value("fluoroscope_store_documents_written_total") >= 2000
            else None
        ),
        "all 2,000 spans stored",
    )


def test_a_span_with_metadata_nested_too_deep_keeps_it_as_text_and_its_request_is_stored(
    collector: Collector, xray: Any
) -> None:
    """aws.xray.metadata.<namespace> holds a JSON object; one nested past what a document and
    an OTLP receiver can take stays the string it came as, beside the request's other spans."""
    deep = '{"a":' * 300 + "1" + "}" * 300
    traces = [EPOCH + "f" * 23 + "1", EPOCH + "f" * 23 + "2"]
    request = _span_request(traces[:1], {})
    request.MergeFrom(_span_request(traces[1:], {"aws.xray.metadata.deep": deep}))

    reply = _raw_grpc(collector, request.SerializeToString())

    assert reply.partial_success.rejected_spans == 0
    wait_for_trace(xray, f"1-{traces[0][:8]}-{traces[0][8:]}")
    (document,) = documents(wait_for_trace(xray, f"1-{traces[1][:8]}-{traces[1][8:]}"))
    assert document["metadata"]["default"]["aws.xray.metadata.deep"] == deep
