"""``bench otlp``'s sending process: export calls at a fixed rate, and how each was answered."""

import multiprocessing
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)

from fluoroscope.cli.bench.spans import Requests

_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# The OpenTelemetry exporters' default deadline for one export call.
CALL_TIMEOUT_S = 10.0
# Calls awaiting an answer. Far more than the offered rate needs while the collector keeps up
# (it answers within a flush interval or two); the bound only matters when it does not.
MAX_IN_FLIGHT = 1_024
# One pacing slice, and the most behind schedule a sender catches up on before it looks at the
# clock again (so that it stops on time when it cannot keep up), as in ``senders``.
SLICE_S = 0.001
MAX_BURST_S = 0.005
READY_TIMEOUT_S = 120.0


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
    # Only the sending process loads gRPC: `fluoroscope serve` declares the bench commands too.
    import grpc  # noqa: PLC0415

    retryable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
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
        elif code in retryable:
            result.refused += 1
        else:
            failed[code.name] += 1
    result.failed = dict(failed)
    channel.close()
    messages.put(result)
