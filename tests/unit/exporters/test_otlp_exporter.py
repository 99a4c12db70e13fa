"""The OTLP exporter: its endpoint parsing, its bounded queue, and what it does with refusals."""

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fluoroscope.errors import ConfigError
from fluoroscope.exporters import otlp
from fluoroscope.exporters.otlp import Destination, OtlpExporter
from fluoroscope.telemetry import Registry
from fluoroscope.translate.otlp import documents_to_spans
from fluoroscope.translate.otlp._values import MAX_VALUE_DEPTH


@pytest.mark.parametrize(
    ("url", "http", "target"),
    [
        ("grpc://jaeger:4317", False, "jaeger:4317"),
        ("http://jaeger:4317", False, "jaeger:4317"),
        ("jaeger:4317", False, "jaeger:4317"),
        ("http://tempo:4318/v1/traces", True, "http://tempo:4318/v1/traces"),
    ],
)
def test_the_url_chooses_grpc_or_http(url: str, http: bool, target: str) -> None:
    """An HTTP URL ending in /v1/traces is OTLP/HTTP; anything else is gRPC."""
    destination = Destination.parse(url)

    assert (destination.http, destination.target) == (http, target)


def test_a_url_without_a_port_is_a_configuration_error() -> None:
    """The endpoint must name its port."""
    with pytest.raises(ConfigError, match="--export-otlp"):
        Destination.parse("http://jaeger")


def test_a_full_queue_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches beyond the bound are dropped at once, counted as queue_full."""
    monkeypatch.setattr(otlp, "MAX_QUEUED_DOCUMENTS", 3)
    registry = Registry()
    exporter = OtlpExporter(Destination.parse("grpc://127.0.0.1:9"), registry)

    exporter.offer([b"a", b"b"])
    exporter.offer([b"c", b"d"])

    assert registry.value("fluoroscope_export_documents_dropped", "queue_full") == 2


def _document(number: int, metadata: object = None) -> bytes:
    document: dict[str, object] = {
        "name": "checkout",
        "id": f"{number:016x}",
        "trace_id": f"1-5f84c7a0-{number:024x}",
        "start_time": 1_602_537_376.0,
        "end_time": 1_602_537_377.0,
    }
    if metadata is not None:
        document["metadata"] = {"default": {"x": metadata}}
    return orjson.dumps(document)


class _Endpoint:
    """Stands in for an OTLP endpoint: refuses requests holding a marked span, or all."""

    def __init__(self, refusal: "otlp._Refused", marker: bytes | None) -> None:
        self.refusal = refusal
        self.marker = marker
        self.requests: list[int] = []

    def post(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        spans = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
        self.requests.append(len(spans))
        if self.marker is None or any(s.span_id == self.marker for s in spans):
            raise self.refusal


def test_a_batch_refused_as_malformed_is_split_until_only_the_bad_document_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry()
    exporter = OtlpExporter(Destination.parse("grpc://127.0.0.1:9"), registry)
    endpoint = _Endpoint(
        otlp._Refused("INVALID_ARGUMENT", of_content=True), bytes.fromhex(f"{5:016x}")
    )
    monkeypatch.setattr(exporter, "_post", endpoint.post)

    exporter._send([_document(n) for n in range(1, 9)])

    assert registry.value("fluoroscope_export_documents_sent") == 7
    assert registry.value("fluoroscope_export_documents_dropped", "rejected") == 1
    assert endpoint.requests[0] == 8
    assert len(endpoint.requests) < 2 * 8  # halves that pass are not split further


def test_a_refusal_of_the_sender_drops_the_batch_without_splitting_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An endpoint that refuses the sender (401, a wrong path) would refuse every half too."""
    registry = Registry()
    exporter = OtlpExporter(Destination.parse("grpc://127.0.0.1:9"), registry)
    endpoint = _Endpoint(otlp._Refused("UNAUTHENTICATED", of_content=False), None)
    monkeypatch.setattr(exporter, "_post", endpoint.post)

    exporter._send([_document(n) for n in range(1, 9)])

    assert endpoint.requests == [8]
    assert registry.value("fluoroscope_export_documents_dropped", "rejected") == 8


def test_deeply_nested_metadata_is_forwarded_in_a_request_a_receiver_can_decode() -> None:
    """Past MAX_VALUE_DEPTH levels a value travels as its JSON text: protobuf decoders refuse
    messages nested past their recursion limit (100 by default), and with it the request."""
    nested: object = "leaf"
    for _ in range(60):
        nested = {"k": nested}

    body = documents_to_spans([_document(1, nested)]).SerializeToString()

    span = ExportTraceServiceRequest.FromString(body).resource_spans[0].scope_spans[0].spans[0]
    (value,) = [kv.value for kv in span.attributes if kv.key == "x"]
    for _ in range(MAX_VALUE_DEPTH):
        value = value.kvlist_value.values[0].value
    assert orjson.loads(value.string_value) == nested_at(nested, MAX_VALUE_DEPTH)


def nested_at(value: object, depth: int) -> object:
    for _ in range(depth):
        assert isinstance(value, dict)
        value = value["k"]
    return value


def test_numbers_past_a_double_are_forwarded_and_a_failing_document_costs_only_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metadata holding an integer of 400 digits, or 1e400, is valid JSON the store keeps: it
    is forwarded. A document whose translation fails for any reason (here, a bug) is dropped
    alone and counted, and the exporter goes on."""
    registry = Registry()
    exporter = OtlpExporter(Destination.parse("grpc://127.0.0.1:9"), registry)
    posted: list[bytes] = []
    monkeypatch.setattr(exporter, "_post", posted.append)
    huge = _document(1).replace(
        b'"name"', b'"metadata":{"default":{"n":' + b"9" * 400 + b'}},"name"'
    )
    overflowing = _document(2).replace(b'"name"', b'"metadata":{"default":{"n":1e400}},"name"')
    broken = _document(3)
    translate = otlp.documents_to_spans

    def failing(batch: list[bytes]) -> ExportTraceServiceRequest:
        if broken in batch:
            raise RuntimeError("a bug")
        return translate(batch)

    monkeypatch.setattr(otlp, "documents_to_spans", failing)

    exporter._send([huge, overflowing, broken, _document(4)])

    assert registry.value("fluoroscope_export_documents_sent") == 3
    assert registry.value("fluoroscope_export_documents_dropped", "untranslatable") == 1
