"""The OTLP exporter's endpoint parsing and its bounded queue."""

import pytest

from fluoroscope.errors import ConfigError
from fluoroscope.exporters import otlp
from fluoroscope.exporters.otlp import Destination, OtlpExporter
from fluoroscope.telemetry import Registry


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
