"""Builders for OTLP requests, translation shortcuts, and the captured OTLP corpus.

X-Ray documents are built with ``make_document`` from tests/unit/conftest.py.
"""

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fluoroscope.translate.otlp import documents_to_spans, spans_to_documents
from fluoroscope.translate.xray_json import parse_document

OTLP_DIR = Path(__file__).resolve().parents[3] / "fixtures" / "otlp"
OTLP_SCENARIOS = sorted(path.name.removesuffix(".binpb") for path in OTLP_DIR.glob("*.binpb"))

TRACE_ID = bytes.fromhex("6b065e19de34471773fb7a0c55f48339")
XRAY_TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
PARENT = bytes.fromhex("00000000000000aa")
# 2026-11-25T06:23:37.5Z, with nanoseconds a float cannot hold.
START = 1_795_587_817_500_000_123
END = START + 25_000_000

SERVER = Span.SPAN_KIND_SERVER
CLIENT = Span.SPAN_KIND_CLIENT
INTERNAL = Span.SPAN_KIND_INTERNAL
PRODUCER = Span.SPAN_KIND_PRODUCER
CONSUMER = Span.SPAN_KIND_CONSUMER
ERROR = Status.STATUS_CODE_ERROR
OK = Status.STATUS_CODE_OK


def set_value(out: AnyValue, value: Any) -> None:
    """Set a protobuf AnyValue from a Python value (lists become arrays, dicts key-value lists)."""
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, list):
        out.array_value.SetInParent()
        for item in value:
            set_value(out.array_value.values.add(), item)
    elif isinstance(value, dict):
        out.kvlist_value.SetInParent()
        for key, item in value.items():
            entry = out.kvlist_value.values.add()
            entry.key = key
            set_value(entry.value, item)


def set_attributes(out: Any, attributes: dict[str, Any]) -> None:
    """Append Python-valued attributes to a repeated KeyValue field."""
    for key, value in attributes.items():
        entry = out.add()
        entry.key = key
        set_value(entry.value, value)


@pytest.fixture
def make_span() -> Callable[..., Span]:
    """Build a finished SERVER span; keyword arguments set its fields.

    Span ids are 0000000000000001, 0000000000000002, ... in call order. ``attributes`` and
    ``events`` (``(name, time, attributes)`` tuples) take Python values; ``status`` is a code or
    a ``(code, message)`` pair.
    """
    ids = itertools.count(1)

    def make(
        *,
        attributes: dict[str, Any] | None = None,
        events: tuple[tuple[str, int, dict[str, Any]], ...] = (),
        status: int | tuple[int, str] = 0,
        **fields: Any,
    ) -> Span:
        span = Span(
            trace_id=TRACE_ID,
            span_id=next(ids).to_bytes(8, "big"),
            name="operation",
            kind=SERVER,
            start_time_unix_nano=START,
            end_time_unix_nano=END,
        )
        for name, value in fields.items():
            setattr(span, name, value)
        set_attributes(span.attributes, attributes or {})
        for name, time, event_attributes in events:
            event = span.events.add(name=name, time_unix_nano=time)
            set_attributes(event.attributes, event_attributes)
        code, message = status if isinstance(status, tuple) else (status, "")
        span.status.SetInParent()  # present even when unset, as the SDK encodes it
        span.status.code = code
        span.status.message = message
        return span

    return make


def export_request(
    *spans: Span,
    resource: dict[str, Any] | None = None,
    scope: tuple[str, str] = ("tests", "1.0"),
) -> ExportTraceServiceRequest:
    """One ResourceSpans with one ScopeSpans holding ``spans``."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    set_attributes(
        resource_spans.resource.attributes,
        resource if resource is not None else {"service.name": "checkout"},
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = scope
    scope_spans.spans.extend(spans)
    return request


@pytest.fixture
def to_documents() -> Callable[..., list[dict[str, Any]]]:
    """Translate spans (one resource, one scope) and return the documents as dicts.

    Fails the test if any span is refused or any document is one parse_document refuses.
    """

    def translate(
        *spans: Span,
        resource: dict[str, Any] | None = None,
        indexed: frozenset[str] = frozenset(),
    ) -> list[dict[str, Any]]:
        translation = spans_to_documents(
            export_request(*spans, resource=resource), indexed_attributes=indexed
        )
        assert translation.rejected == []
        for document in translation.documents:
            parse_document(document)
        return [orjson.loads(document) for document in translation.documents]

    return translate


@pytest.fixture
def to_document(to_documents: Callable[..., list[dict[str, Any]]]) -> Callable[..., dict[str, Any]]:
    """Translate one span and return its document."""

    def translate(span: Span, **options: Any) -> dict[str, Any]:
        (document,) = to_documents(span, **options)
        return document

    return translate


@pytest.fixture
def to_span() -> Callable[..., Span]:
    """Read one X-Ray document (a dict) back as its one span."""

    def read(document: dict[str, Any]) -> Span:
        request = documents_to_spans([orjson.dumps(document)])
        (resource_spans,) = request.resource_spans
        (scope_spans,) = resource_spans.scope_spans
        (span,) = scope_spans.spans
        return span

    return read


def attributes_of(span: Span) -> dict[str, Any]:
    """A protobuf span's attributes as Python values (arrays as lists)."""
    return {item.key: python_value(item.value) for item in span.attributes}


def python_value(value: AnyValue) -> Any:
    """A protobuf AnyValue as a Python value."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [python_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {item.key: python_value(item.value) for item in value.kvlist_value.values}
    return getattr(value, which) if which else None


def load_request(name: str) -> ExportTraceServiceRequest:
    """A captured OTLP request from tests/fixtures/otlp."""
    return ExportTraceServiceRequest.FromString((OTLP_DIR / f"{name}.binpb").read_bytes())


@pytest.fixture(params=OTLP_SCENARIOS)
def captured(request: pytest.FixtureRequest) -> tuple[str, ExportTraceServiceRequest]:
    """Each captured OTLP request in turn, with its scenario name."""
    return request.param, load_request(request.param)
