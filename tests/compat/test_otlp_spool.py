"""OTLP/gRPC requests beyond what translation can take are spooled, acknowledged, then stored."""

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from fluoroscope.cli.bench.spans import Requests
from tests.compat.process import Collector
from tests.compat.queries import wait_for_metric

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BATCH = 512
# About 125 KB each: 60 at once are nearly twice what translation holds in flight (4 MiB).
REQUESTS = 60
WRITTEN = "fluoroscope_store_documents_written_total"


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
