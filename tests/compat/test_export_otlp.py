"""Forwarding as OTLP to another backend: a second collector's OTLP receivers."""

from collections.abc import Callable

import pytest

from tests.compat.documents import segment, subsegment
from tests.compat.process import Collector
from tests.compat.queries import documents, wait_for_trace, xray_client


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_everything_stored_is_forwarded_and_arrives_whole(
    make_collector: Callable[..., Collector], transport: str
) -> None:
    """Segments sent to one collector reach the other as OTLP and read back the same."""
    backend = make_collector()
    target = f"grpc://{backend.otlp_grpc}" if transport == "grpc" else backend.otlp_http
    front = make_collector(FLUOROSCOPE_EXPORT_OTLP=target)
    root = segment(name="frontend", http={"response": {"status": 500}}, fault=True,
                   annotations={"customer": "acme"})  # fmt: skip
    call = subsegment(root, name="payments", namespace="remote")
    root["subsegments"] = [call]

    front.send_documents(root)

    chosen = "OTLP/gRPC" if transport == "grpc" else "OTLP/HTTP"
    assert any(f"forwarding as {chosen} to {target}" in line for line in front.ready_lines)

    forwarded = wait_for_trace(xray_client(backend.endpoint_url), root["trace_id"])
    (document,) = documents(forwarded)
    assert document["name"] == "frontend"
    assert document["fault"] is True
    assert document["annotations"] == {"customer": "acme"}
    assert [s["name"] for s in document["subsegments"]] == ["payments"]
    assert backend.metrics().value("fluoroscope_otlp_spans_received_total", transport=transport) > 0
