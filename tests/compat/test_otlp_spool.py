"""OTLP/gRPC requests beyond what translation can take are spooled, acknowledged, then stored."""

from concurrent.futures import ThreadPoolExecutor

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from fluoroscope.cli.bench.spans import Requests
from tests.compat.process import Collector
from tests.compat.queries import wait_for_metric

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BATCH = 512
# About 125 KB each: 60 at once are nearly twice what translation holds in flight (4 MiB).
REQUESTS = 60
WRITTEN = "fluoroscope_store_documents_written_total"
# Exports of BATCH spans (about 700 KB each) sent at once by as many SDK exporters: far past
# the 4 MiB that may wait for translation.
SDK_EXPORTS = 40


def _export_all(collector: Collector, bodies: list[bytes]) -> list[object]:
    """Send every body at once on one channel; each call's response, or its error."""
    with grpc.insecure_channel(collector.otlp_grpc) as channel:
        export = channel.unary_unary(
            EXPORT,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        futures = [export.future(body, timeout=30) for body in bodies]
        outcomes: list[object] = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except grpc.RpcError as exc:
                outcomes.append(exc.code())
        return outcomes


def test_a_burst_of_requests_is_spooled_answered_ok_and_all_stored(make_collector):
    """Translation one helper wide is far behind: requests wait on disk and none are refused."""
    collector = make_collector(FLUOROSCOPE_OTLP_TRANSLATION_PROCESSES="1")
    requests = Requests(BATCH, seed=7)
    bodies = [requests.next() for _ in range(REQUESTS)]
    garbage = b"\xff\xff\xff\xff not an export request"

    outcomes = _export_all(collector, [*bodies[:30], garbage, *bodies[30:]])

    metrics = collector.metrics()
    spooled = metrics.value("fluoroscope_otlp_requests_spooled_total", transport="grpc")
    assert outcomes.pop(30) == grpc.StatusCode.INVALID_ARGUMENT
    assert all(isinstance(outcome, ExportTraceServiceResponse) for outcome in outcomes)
    assert not any(outcome.partial_success.rejected_spans for outcome in outcomes)
    assert spooled > 0
    wait_for_metric(collector, WRITTEN, REQUESTS * BATCH)
    wait_for_metric(collector, "fluoroscope_spool_items", 0, spool="otlp")
    assert collector.metrics().value("fluoroscope_otlp_spans_received_total", transport="grpc") == (
        REQUESTS * BATCH
    )


def test_the_opentelemetry_sdk_exporter_is_answered_ok_while_requests_are_spooled(make_collector):
    """Forty real OTLP/gRPC exporters export 512 spans each at once: every export succeeds."""
    collector = make_collector()
    captured = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "spooled"}))
    provider.add_span_processor(SimpleSpanProcessor(captured))
    tracer = provider.get_tracer("compat")
    for _ in range(SDK_EXPORTS * BATCH // 2):
        with tracer.start_as_current_span("GET /item", kind=SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", "GET")
            span.set_attribute("url.full", "http://shop.example.com/item?id=" + "x" * 200)
            span.set_attribute("app.basket", "item-" * 200)  # ~1 KB: large requests
            span.set_attribute("http.response.status_code", 200)
            with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as call:
                call.set_attribute("db.system", "postgresql")
                call.set_attribute("db.statement", "SELECT * FROM items WHERE id = $1")
    spans = captured.get_finished_spans()
    provider.shutdown()
    exporters = [
        GrpcExporter(endpoint=f"http://{collector.otlp_grpc}", insecure=True, timeout=30)
        for _ in range(SDK_EXPORTS)
    ]

    with ThreadPoolExecutor(SDK_EXPORTS) as pool:
        results = list(
            pool.map(
                lambda i: exporters[i].export(spans[i * BATCH : (i + 1) * BATCH]),
                range(SDK_EXPORTS),
            )
        )

    for exporter in exporters:
        exporter.shutdown()
    spooled = collector.metrics().value("fluoroscope_otlp_requests_spooled_total", transport="grpc")
    assert results == [SpanExportResult.SUCCESS] * SDK_EXPORTS
    assert spooled > 0
    # 20,480 spans, translated and stored after the answers: seconds on a busy machine.
    wait_for_metric(collector, WRITTEN, SDK_EXPORTS * BATCH, timeout=30.0)
