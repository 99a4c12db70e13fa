"""``fluoroscope bench otlp``: OTLP/gRPC export requests at a fixed rate, and what became of them.

Spans are offered in ``ExportTraceServiceRequest`` batches of ``--batch`` spans, as an
OpenTelemetry SDK or Collector exports them, over the collector's OTLP/gRPC port: traces of a
SERVER span with HTTP attributes and a CLIENT and an INTERNAL child, from a few services. The
requests are serialized before the clock starts (each call only puts fresh ids into one), and a
separate process sends them as unary ``TraceService/Export`` calls paced by batch, without
waiting for answers before the next call is due, so that neither the sender's CPU nor the
collector's answer time sets the offered rate.

Without ``--grpc``/``--endpoint`` it starts its own collector on a temporary data directory and
stops it at the end. It reports the offered and achieved rates, the calls answered, refused
with UNAVAILABLE or RESOURCE_EXHAUSTED (which a sender retries: counted here as not stored) and
failed otherwise, the spans stored (one document each) and lost (with the collector's own counts
of why), the export-call latency, and the memory and CPU of the collector and of its child
processes. The collector answers a call once its spans are stored, so the latency is also the
time from sending to queryable; when calls sent in the last quarter of the run are clearly
slower than the rest, a backlog was growing, and a longer run at that rate would end in calls
given up at their deadline. The exit status is 1 when anything was lost or refused.
"""

import argparse
import math
import multiprocessing
import os
import queue
import random
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import grpc
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from fluoroscope.cli.bench.arguments import bounded, positive
from fluoroscope.cli.bench.client import Api, Metrics, parse_address, settle, start_collector
from fluoroscope.cli.bench.probes import ResourceSampler
from fluoroscope.cli.bench.report import Report, machine, mebibytes, milliseconds

_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# The OpenTelemetry exporters' default deadline for one export call.
CALL_TIMEOUT_S = 10.0
# Calls awaiting an answer. Far more than the offered rate needs while the collector keeps up
# (it answers within a flush interval or two); the bound only matters when it does not.
MAX_IN_FLIGHT = 1_024
# Distinct requests built before the run; each call sends one of them with fresh ids.
POOL = 16
# One pacing slice, and the most behind schedule a sender catches up on before it looks at the
# clock again (so that it stops on time when it cannot keep up), as in ``senders``.
SLICE_S = 0.001
MAX_BURST_S = 0.005
READY_TIMEOUT_S = 120.0
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

_RECEIVED = "fluoroscope_otlp_spans_received_total"
_REFUSED = "fluoroscope_otlp_requests_refused_total"
_REJECTED = "fluoroscope_otlp_spans_rejected_total"
_DROPPED = "fluoroscope_assembly_documents_dropped_total"
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench otlp``."""
    parser = benches.add_parser(
        "otlp",
        help="offer OTLP/gRPC export requests; report loss, refusals, latency and memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=positive, default=60_000.0, help="spans offered per second")
    parser.add_argument("--duration", type=positive, default=20.0, help="seconds to offer them for")
    parser.add_argument(
        "--batch", type=bounded(1, 100_000), default=512, help="spans per export request"
    )
    parser.add_argument("--grpc", help="HOST:PORT of a running collector's OTLP/gRPC listener")
    parser.add_argument("--endpoint", help="URL of that collector's HTTP API (with --grpc)")
    parser.add_argument("--pid", type=int, help="that collector's pid, to measure its memory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 when everything was stored, 1 otherwise, 2 on bad arguments."""
    if bool(args.grpc) != bool(args.endpoint):
        print("fluoroscope bench otlp: --grpc and --endpoint go together", file=sys.stderr)
        return 2
    if args.pid is not None and not args.grpc:
        print("fluoroscope bench otlp: --pid is for a running collector", file=sys.stderr)
        return 2
    if args.grpc:
        try:
            target = _target(parse_address(args.grpc))
            http = parse_address(args.endpoint)
        except ValueError as exc:
            print(f"fluoroscope bench otlp: {exc}", file=sys.stderr)
            return 2
        outcome = _measure(args, target, http, args.pid)
        where = f"running at grpc://{args.grpc} and {args.endpoint}"
    else:
        with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
            collector = start_collector(Path(scratch), otlp_grpc=True)
            assert collector.otlp_grpc is not None
            try:
                outcome = _measure(
                    args, _target(collector.otlp_grpc), collector.http, collector.pid
                )
            finally:
                collector.stop()
            where = f"started for this run (pid {collector.pid}), temporary data directory"
    print(_report(args, where, outcome).render())
    return 0 if outcome.passed else 1


# -- the requests -----------------------------------------------------------------------------


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


# -- the sending process ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What the sender sends."""

    target: str  # a gRPC target, host:port
    rate: float  # spans per second
    duration: float
    batch: int


@dataclass(slots=True)
class Result:
    """What the sender sent, and how each call was answered."""

    calls: int = 0
    spans: int = 0
    bytes: int = 0
    answered: int = 0  # calls answered OK
    refused: int = 0  # UNAVAILABLE or RESOURCE_EXHAUSTED: retryable
    failed: dict[str, int] = field(default_factory=dict)  # other status codes -> calls
    unanswered: int = 0  # still open when the sender gave up waiting
    rejected: int = 0  # spans reported in partial_success
    latencies: list[float] = field(default_factory=list)  # seconds, of calls answered OK
    # The same, of calls sent in the last quarter of the run: while the collector keeps up,
    # these are no slower than the rest; when it does not, a backlog makes them slower.
    late_latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    most_in_flight: int = 0
    held_back: int = 0  # times the sender waited for a free call slot

    @property
    def failed_calls(self) -> int:
        return sum(self.failed.values())


def send(plan: Plan, on_start: Callable[[], None] = lambda: None) -> Result:
    """Run the sender in a process of its own; ``on_start`` is called as it starts sending.

    A process of its own so that its pacing is not disturbed by the samplers here, and the GIL
    it shares with nothing but gRPC's completion thread.
    """
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    messages: multiprocessing.Queue[Result | None] = context.Queue()
    process = context.Process(target=_send, args=(plan, start, messages), daemon=True)
    process.start()
    try:
        _receive(messages, process, READY_TIMEOUT_S)  # None: built its requests, ready
        on_start()
        start.set()
        result = _receive(messages, process, plan.duration + CALL_TIMEOUT_S + READY_TIMEOUT_S)
    finally:
        process.join(READY_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()
    if result is None:
        raise RuntimeError("the sending process answered out of turn")
    return result


def _receive(
    messages: "multiprocessing.Queue[Result | None]", process: SpawnProcess, timeout_s: float
) -> Result | None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return messages.get(timeout=0.2)
        except queue.Empty:
            pass
        if process.exitcode not in (None, 0):
            raise RuntimeError(f"the sending process failed (exit status {process.exitcode})")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the sending process did not answer in time")


def _send(plan: Plan, start: Event, messages: "multiprocessing.Queue[Result | None]") -> None:
    requests = Requests(plan.batch)
    channel = grpc.insecure_channel(plan.target, options=[("grpc.max_send_message_length", -1)])
    export: grpc.UnaryUnaryMultiCallable[bytes, ExportTraceServiceResponse]
    export = channel.unary_unary(
        _METHOD,
        request_serializer=None,  # the requests are serialized already
        response_deserializer=ExportTraceServiceResponse.FromString,
    )
    # Connect now rather than on the first call, whose latency would otherwise include it.
    grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
    slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
    # (when sent, the call): grpc's call futures, whose type only the stubs name.
    calls: list[tuple[float, grpc._CallFuture[ExportTraceServiceResponse]]] = []
    finished: dict[int, float] = {}

    def done(number: int) -> Callable[[object], None]:
        def record(_: object) -> None:
            finished[number] = time.perf_counter()
            slots.release()

        return record

    batch_rate = plan.rate / plan.batch
    burst = max(1, int(batch_rate * MAX_BURST_S))
    result = Result()
    body = requests.next()
    messages.put(None)
    start.wait()
    cpu = time.process_time()
    began = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - began
        if elapsed >= plan.duration:
            break
        due = min(int(elapsed * batch_rate) + 1, result.calls + burst)
        if result.calls >= due:
            time.sleep(SLICE_S)
            continue
        while result.calls < due:
            if not slots.acquire(blocking=False):
                result.held_back += 1
                if not slots.acquire(timeout=max(0.0, plan.duration - elapsed)):
                    break
            sent = time.perf_counter()
            future = export.future(body, timeout=CALL_TIMEOUT_S)
            calls.append((sent, future))
            future.add_done_callback(done(result.calls))
            result.calls += 1
            result.spans += plan.batch
            result.bytes += len(body)
            result.most_in_flight = max(result.most_in_flight, result.calls - len(finished))
            body = requests.next()
    result.seconds = time.perf_counter() - began
    result.cpu_seconds = time.process_time() - cpu
    # Every call ends by its deadline; the margin is for the completion thread to report it.
    for _ in range(MAX_IN_FLIGHT):
        if not slots.acquire(timeout=CALL_TIMEOUT_S + 5.0):
            break
    failed: Counter[str] = Counter()
    for number, (sent, call) in enumerate(calls):
        if number not in finished:
            result.unanswered += 1
            continue
        code = call.code()
        if code == grpc.StatusCode.OK:
            result.answered += 1
            result.latencies.append(finished[number] - sent)
            if sent - began >= plan.duration * 0.75:
                result.late_latencies.append(finished[number] - sent)
            result.rejected += call.result().partial_success.rejected_spans
        elif code in _RETRYABLE:
            result.refused += 1
        else:
            failed[code.name] += 1
    result.failed = dict(failed)
    channel.close()
    messages.put(result)


# -- measuring and reporting ------------------------------------------------------------------


@dataclass
class _Outcome:
    result: Result
    request_bytes: float
    delta: Metrics
    stored: float
    settle_seconds: float
    settled: bool
    resources: ResourceSampler
    helpers: "_Helpers"

    @property
    def sent(self) -> int:
        return self.result.spans

    @property
    def lost(self) -> float:
        return self.sent - self.stored

    @property
    def passed(self) -> bool:
        r = self.result
        return (
            r.spans > 0
            and self.lost == 0
            and r.refused == 0
            and r.failed_calls == 0
            and r.unanswered == 0
        )


def _measure(
    args: argparse.Namespace, target: str, http: tuple[str, int], pid: int | None
) -> _Outcome:
    api = Api(http)
    plan = Plan(target, args.rate, args.duration, args.batch)
    before = api.metrics()
    resources = ResourceSampler(pid)
    helpers = _Helpers(pid)

    def watch() -> None:
        resources.start()
        helpers.start()

    try:
        result = send(plan, on_start=watch)
    finally:
        resources.lap()
        helpers.lap()
    stopped = time.monotonic()
    written, settled = settle(api, before, result.spans)
    settle_seconds = time.monotonic() - stopped
    resources.stop()
    delta = api.metrics().minus(before)
    api.close()
    request_bytes = result.bytes / result.calls if result.calls else 0.0
    return _Outcome(
        result, request_bytes, delta, written, settle_seconds, settled, resources, helpers
    )


class _Helpers:
    """The CPU time and memory of the collector's child processes, which run beside it.

    The collector may translate OTLP requests in helper processes; the sampler in ``probes``
    sees the collector's own process only.
    """

    def __init__(self, pid: int | None) -> None:
        self._process = psutil.Process(pid) if pid is not None else None
        self._cpu_start: dict[int, float] = {}
        self._started = 0.0
        self.count = 0
        self.cores: float | None = None  # CPU seconds per second between start and lap
        self.rss = 0  # bytes, at lap

    def start(self) -> None:
        """Start counting CPU time."""
        self._started = time.monotonic()
        for child in self._children():
            try:
                self._cpu_start[child.pid] = _cpu(child)
            except psutil.Error:
                continue

    def lap(self) -> None:
        """Take the CPU time used since :meth:`start`, and the memory now."""
        used = 0.0
        children = self._children()
        for child in children:
            try:
                used += _cpu(child) - self._cpu_start.get(child.pid, 0.0)
                self.rss += child.memory_info().rss
            except psutil.Error:
                continue
        self.count = len(children)
        if self._started:
            self.cores = used / max(1e-9, time.monotonic() - self._started)

    def _children(self) -> list[psutil.Process]:
        if self._process is None:
            return []
        try:
            return self._process.children(recursive=True)
        except psutil.Error:
            return []


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _report(args: argparse.Namespace, where: str, outcome: _Outcome) -> Report:
    result, delta, resources, helpers = (
        outcome.result,
        outcome.delta,
        outcome.resources,
        outcome.helpers,
    )
    sent = outcome.sent
    batch = args.batch
    report = Report("fluoroscope bench otlp")
    report.section("What ran")
    report.row("command", _command(args))
    report.row("collector", where)
    report.row("machine", f"{machine()}; load generator on the same machine")
    report.row(
        "requests",
        f"ExportTraceServiceRequest of {batch:,} spans, {outcome.request_bytes:,.0f} bytes "
        f"({outcome.request_bytes / batch:,.0f} a span); traces of a SERVER span with a CLIENT "
        f"and an INTERNAL child, {len(SERVICES)} services",
    )
    report.section("Sending")
    report.row(
        "offered rate",
        f"{args.rate:,.0f} spans/s for {args.duration:g} s "
        f"({args.rate / batch:,.1f} calls/s, unary TraceService/Export over gRPC)",
    )
    seconds = result.seconds
    report.row(
        "achieved send rate",
        f"{sent / seconds if seconds else 0:,.0f} spans/s "
        f"(1 sender, {result.cpu_seconds / max(seconds, 1e-9):.2f} cores, "
        f"at most {result.most_in_flight:,} call{'s' if result.most_in_flight != 1 else ''} "
        "in flight)",
    )
    if result.held_back:
        report.row(
            "held back",
            f"{result.held_back:,} times, with {MAX_IN_FLIGHT:,} calls awaiting an answer",
        )
    report.row("batches sent", f"{result.calls:,} ({sent:,} spans)")
    report.row("  answered OK", f"{result.answered:,}")
    report.row(
        "  refused (retryable)",
        f"{result.refused:,} ({result.refused * batch:,} spans; UNAVAILABLE or "
        "RESOURCE_EXHAUSTED: a sender would retry them)",
    )
    failures = ", ".join(f"{count:,} {code}" for code, count in sorted(result.failed.items()))
    report.row("  failed", f"{result.failed_calls:,}" + (f" ({failures})" if failures else ""))
    if result.unanswered:
        report.row("  unanswered", f"{result.unanswered:,} (no answer, not even the deadline)")
    report.section("Outcome")
    received = delta.get(f'{_RECEIVED}{{transport="grpc"}}', 0.0)
    report.row("spans received", f"{received:,.0f} (translated by the collector)")
    report.row("spans stored", f"{outcome.stored:,.0f}")
    lost = outcome.lost
    report.row("lost (sent - stored)", f"{lost:,.0f} ({lost / max(1, sent):.2%})")
    full = _labelled(delta, _REFUSED, "pipeline_full")
    slow = _labelled(delta, _REFUSED, "store_slow")
    # Refusals for any other reason (malformed, a translator restarted, ...) come before the
    # spans are counted as received.
    early = delta.family(_REFUSED) - full - slow
    counted = {
        f"refused before translation ({early:,.0f} requests)": early * batch,
        # A call whose deadline passes before the collector has translated and checked its
        # request is cancelled there, and its spans never reach the pipeline.
        "not taken in (call given up first)": sent - received - early * batch,
        f"refused with the pipeline full ({full:,.0f} requests)": full * batch,
        # Refusals by the assembler (trace over its size limit) are among these.
        "rejected (partial_success)": delta.family(_REJECTED),
        "dropped by assembly as stale copies": _labelled(delta, _DROPPED, "stale_in_progress"),
        "sampled out": delta.family("fluoroscope_sampling_documents_dropped_total"),
    }
    for name, value in counted.items():
        report.row(f"  {name}", f"{value:,.0f}")
    report.row("  not accounted for", f"{lost - sum(counted.values()):,.0f}")
    # Spans of a call refused as not stored in time, or given up on once the collector had
    # them, stay in the pipeline and are stored all the same; a sender retrying them would
    # store them twice.
    acknowledged = result.answered * batch - result.rejected
    report.row(
        "stored, but their call not OK",
        f"{max(0.0, outcome.stored - acknowledged):,.0f} "
        f"({slow:,.0f} requests refused as not stored in time, the others given up on)",
    )
    report.row(
        "settled",
        f"{outcome.settle_seconds:.1f} s after sending stopped"
        + ("" if outcome.settled else " (gave up waiting)"),
    )
    report.section("Latency, export call to answer (the spans stored)")
    report.row("calls answered OK", milliseconds(result.latencies))
    report.row("  sent in the last quarter", milliseconds(result.late_latencies))
    report.section("Collector process")
    if resources.measured:
        report.row("memory (RSS, 1 s samples to the end)", mebibytes(resources.rss))
        if resources.cores is not None:
            report.row("CPU while sending", f"{resources.cores:.2f} cores on average")
        if helpers.count and helpers.cores is not None:
            report.row(
                "child processes",
                f"{helpers.count}: {helpers.cores:.2f} cores on average while sending, "
                f"{helpers.rss / (1 << 20):,.0f} MiB RSS together when sending stopped",
            )
    else:
        report.row("memory (RSS)", "not measured (give --pid)")
    report.section("Result")
    report.row(
        "verdict",
        "PASS: everything stored, nothing refused" if outcome.passed else "FAIL: " + _why(outcome),
    )
    return report


def _labelled(metrics: Metrics, name: str, reason: str) -> float:
    """The sum of a family's samples that carry ``reason``, whatever their other labels."""
    label = f'reason="{reason}"'
    return sum(
        value
        for key, value in metrics.items()
        if key.startswith(name + "{") and label in key[len(name) :]
    )


def _why(outcome: _Outcome) -> str:
    result = outcome.result
    reasons = []
    if result.spans == 0:
        reasons.append("nothing was sent")
    if outcome.lost:
        reasons.append(f"{outcome.lost:,.0f} spans lost")
    if result.refused:
        reasons.append(f"{result.refused:,} batches refused")
    if result.failed_calls:
        reasons.append(f"{result.failed_calls:,} calls failed")
    if result.unanswered:
        reasons.append(f"{result.unanswered:,} calls unanswered")
    return "; ".join(reasons)


def _command(args: argparse.Namespace) -> str:
    words = [
        *("fluoroscope", "bench", "otlp", "--rate", f"{args.rate:g}"),
        *("--duration", f"{args.duration:g}", "--batch", str(args.batch)),
    ]
    if args.grpc:
        words += ["--grpc", args.grpc, "--endpoint", args.endpoint]
    if args.pid is not None:
        words += ["--pid", str(args.pid)]
    return shlex.join(words)


def _target(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
