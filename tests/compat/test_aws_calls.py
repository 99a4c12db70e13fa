"""AWS SDK calls traced by the aws-xray-sdk and by OpenTelemetry's botocore instrumentation: one
AWS service is one node whichever SDK called it.

The call is a real botocore call, to the collector's own X-Ray API (the only AWS API at hand):
the X-Ray SDK names its subsegment after the endpoint prefix, ``xray``, and OpenTelemetry
after botocore's service id, ``XRay``.
"""

from collections.abc import Callable
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.compat.process import Collector
from tests.compat.queries import documents, wait_for_trace


def _aws_nodes(client: Any, trace_id: str) -> set[tuple[str, str]]:
    services = client.get_trace_graph(TraceIds=[trace_id])["Services"]
    return {(s["Name"], s["Type"]) for s in services if s.get("Type", "").startswith("AWS::")}


def test_the_x_ray_sdk_and_opentelemetry_meet_in_one_aws_node(
    collector: Collector,
    xray: Any,
    make_recorder: Callable[..., Any],
    make_client: Callable[..., Any],
) -> None:
    """The same GetGroups call, traced by each SDK, is an edge into AWS::XRay both times."""
    recorder = make_recorder(collector)
    segment = recorder.begin_segment("groups-xray")
    call = recorder.begin_subsegment("xray", "aws")  # what the SDK's botocore patch records
    call.set_aws({"operation": "GetGroups", "region": "us-east-1"})
    recorder.end_subsegment()
    recorder.end_segment()
    sdk_trace = str(segment.trace_id)

    provider = TracerProvider(resource=Resource.create({"service.name": "groups-otel"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector.otlp_grpc, insecure=True))
    )
    instrumentor = BotocoreInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        tracer = provider.get_tracer("compat")
        with tracer.start_as_current_span("list groups", kind=SpanKind.SERVER) as entry:
            make_client(collector).get_groups()
        hexed = f"{entry.get_span_context().trace_id:032x}"
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    otel_trace = f"1-{hexed[:8]}-{hexed[8:]}"

    wait_for_trace(xray, sdk_trace)
    traced = wait_for_trace(xray, otel_trace, lambda t: "subsegments" in documents(t)[0])
    (aws_call,) = documents(traced)[0]["subsegments"]
    assert aws_call["namespace"] == "aws"
    assert aws_call["name"] == "XRay"
    assert aws_call["aws"]["operation"] == "GetGroups"
    assert _aws_nodes(xray, sdk_trace) == {("XRay", "AWS::XRay")}
    assert _aws_nodes(xray, otel_trace) == {("XRay", "AWS::XRay")}
    # A filter may name the service either SDK's way.
    for written in ("AWS::XRay", "AWS::xray"):
        found = _matching(xray, f'service(id(type: "{written}"))', sdk_trace, otel_trace)
        assert found == {sdk_trace, otel_trace}, written


def _matching(client: Any, expression: str, *trace_ids: str) -> set[str]:
    epochs = [int(trace_id[2:10], 16) for trace_id in trace_ids]
    pages = client.get_paginator("get_trace_summaries").paginate(
        StartTime=min(epochs) - 60,
        EndTime=max(epochs) + 60,
        TimeRangeType="Service",
        FilterExpression=expression,
    )
    return {s["Id"] for page in pages for s in page["TraceSummaries"]} & set(trace_ids)
