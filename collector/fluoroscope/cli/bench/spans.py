"""Serialized OTLP export requests for ``bench otlp``: three-span traces from a few services."""

import math
import os
import random
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

# Distinct requests built before the run; each call sends one of them with fresh ids.
POOL = 16
SPANS_PER_TRACE = 3
SERVICES = ("checkout", "cart", "catalog", "payments", "shipping", "accounts")
_ROUTES = (
    ("GET", "/api/{service}/items/{{id}}"),
    ("GET", "/api/{service}/search"),
    ("POST", "/api/{service}/orders"),
    ("PUT", "/api/{service}/items/{{id}}"),
)
# The low byte of Span.flags holds the W3C trace flags; 0x01 is the sampled bit SDKs export with.
_SAMPLED = 0x01


@dataclass(frozen=True, slots=True)
class _Template:
    """A serialized request whose ids end in placeholders, replaced afresh for every call.

    Ids are fixed-length bytes fields, so replacing bytes of the serialized message keeps it
    valid, and ``bytes.replace`` does it at memory speed: far cheaper than building messages
    while sending. Every id is the template's own random part followed by a placeholder (8
    bytes in trace ids, 4 in span and parent span ids); each call puts a random value of its own
    in each placeholder, so ids never repeat between calls, and a parent id stays its parent's.
    """

    body: bytes
    trace_mark: bytes
    span_mark: bytes
    trace_marks: int  # occurrences of trace_mark in body
    span_marks: int


class Requests:
    """Serialized export requests of ``batch`` spans, with ids no earlier request used."""

    def __init__(self, batch: int, seed: int | None = None, pool: int = POOL) -> None:
        self._random = random.Random(seed)
        now = time.time_ns()
        self._templates = [self._template(batch, now) for _ in range(pool)]
        self._next = 0

    def next(self) -> bytes:
        """The next request to send."""
        template = self._templates[self._next % len(self._templates)]
        self._next += 1
        while True:
            trace_salt, span_salt = os.urandom(8), os.urandom(4)
            body = template.body.replace(template.trace_mark, trace_salt).replace(
                template.span_mark, span_salt
            )
            # The first replacement could in principle make a new span_mark out of a salt and
            # its neighbours: then the counts differ, and new salts are drawn.
            if (
                body.count(trace_salt) == template.trace_marks
                and body.count(span_salt) == template.span_marks
            ):
                return body

    def _template(self, batch: int, now_ns: int) -> _Template:
        rng = self._random
        while True:
            trace_mark, span_mark = rng.randbytes(8), rng.randbytes(4)
            request, children = self._request(batch, now_ns, trace_mark, span_mark)
            body = request.SerializeToString()
            # Random bytes elsewhere (other ids, timestamps) could repeat a mark; then the
            # replacement would touch more than ids, so draw again.
            if body.count(trace_mark) == batch and body.count(span_mark) == batch + children:
                return _Template(body, trace_mark, span_mark, batch, batch + children)

    def _request(
        self, batch: int, now_ns: int, trace_mark: bytes, span_mark: bytes
    ) -> tuple[ExportTraceServiceRequest, int]:
        rng = self._random
        by_service: dict[str, list[Span]] = {}
        trace_ids: set[bytes] = set()
        span_ids: set[bytes] = set()

        def fresh(known: set[bytes], size: int) -> bytes:
            while True:
                value = rng.randbytes(size)
                if value not in known and any(value):
                    known.add(value)
                    return value

        traces = math.ceil(batch / SPANS_PER_TRACE)
        children = 0
        for number in range(traces):
            service = rng.choice(SERVICES)
            trace_id = fresh(trace_ids, 8) + trace_mark
            spans = _trace(
                rng,
                service,
                trace_id,
                [fresh(span_ids, 4) + span_mark for _ in range(SPANS_PER_TRACE)],
                now_ns - rng.randrange(2_000_000_000),
            )
            del spans[min(SPANS_PER_TRACE, batch - number * SPANS_PER_TRACE) :]
            children += len(spans) - 1
            by_service.setdefault(service, []).extend(spans)
        scope = InstrumentationScope(name="fluoroscope.bench", version="1")
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(
                        attributes=[
                            _attribute("service.name", service),
                            _attribute("telemetry.sdk.language", "python"),
                            _attribute("telemetry.sdk.name", "opentelemetry"),
                        ]
                    ),
                    scope_spans=[ScopeSpans(scope=scope, spans=spans)],
                )
                for service, spans in by_service.items()
            ]
        )
        return request, children


def _trace(
    rng: random.Random, service: str, trace_id: bytes, ids: list[bytes], start_ns: int
) -> list[Span]:
    """A SERVER span answering an HTTP request, with a CLIENT call and some INTERNAL work."""
    method, route = rng.choice(_ROUTES)
    route = route.format(service=service)
    path = route.replace("{id}", str(rng.randrange(1, 100_000)))
    status = rng.choices((200, 201, 404, 500), weights=(90, 5, 4, 1))[0]
    peer = rng.choice([s for s in SERVICES if s != service])
    duration = rng.randrange(2_000_000, 80_000_000)
    client_start = start_ns + duration // 10
    client_end = client_start + duration // 2
    server = Span(
        trace_id=trace_id,
        span_id=ids[0],
        name=f"{method} {route}",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration,
        flags=_SAMPLED,
        attributes=[
            _attribute("http.request.method", method),
            _attribute("url.full", f"https://{service}.example.com{path}"),
            _attribute("http.route", route),
            _attribute("http.response.status_code", status),
            _attribute("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
            _attribute("client.address", f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"),
        ],
        status=Status(code=Status.STATUS_CODE_ERROR if status >= 500 else Status.STATUS_CODE_UNSET),
    )
    client = Span(
        trace_id=trace_id,
        span_id=ids[1],
        parent_span_id=ids[0],
        name="GET",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=client_start,
        end_time_unix_nano=client_end,
        flags=_SAMPLED,
        attributes=[
            _attribute("http.request.method", "GET"),
            _attribute("url.full", f"http://{peer}.internal:8080/v1/{peer}/lookup"),
            _attribute("server.address", f"{peer}.internal"),
            _attribute("server.port", 8080),
            _attribute("http.response.status_code", 200),
        ],
    )
    internal = Span(
        trace_id=trace_id,
        span_id=ids[2],
        parent_span_id=ids[0],
        name="render response",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=client_end,
        end_time_unix_nano=start_ns + duration - duration // 20,
        flags=_SAMPLED,
        attributes=[_attribute("code.function", "render")],
    )
    return [server, client, internal]


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))
