"""Sending processes: X-Ray datagrams at a fixed rate, paced in slices of about a millisecond.

Each sender is a process of its own (the GIL would otherwise cap the rate, and the probes and
samplers in the main process would disturb the pacing). A sender builds its generator, says it
is ready, waits for the common start, then sends what is due every slice with ``sendto`` on a
blocking socket, as fast as it can when it falls behind, and reports what it sent.
"""

import multiprocessing
import queue
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event

from fluoroscope.cli.bench.segments import HEADER, TraceGenerator

# One pacing slice. When a sender falls behind, it sends at most MAX_BURST_S worth of traces
# before it looks at the clock again, so that it stops on time even when overloaded.
SLICE_S = 0.001
MAX_BURST_S = 0.005
# How long senders may take to start, and to report after their run.
READY_TIMEOUT_S = 60.0
REPORT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Plan:
    """What one sender sends."""

    index: int  # 1-255: part of every id, so that senders never collide
    rate: float  # segments (documents) per second
    duration: float
    segments: int
    size: int
    udp: tuple[str, int]
    sample: frozenset[int]  # numbers of the traces whose ids to report


@dataclass(slots=True)
class Result:
    """What one sender sent."""

    index: int
    documents: int = 0
    traces: int = 0
    bytes: int = 0  # documents only, without the daemon header
    errors: int = 0  # sendto failures (not sent, not counted in documents)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    sampled: list[str] = field(default_factory=list)


def plans(
    senders: int,
    rate: float,
    duration: float,
    segments: int,
    size: int,
    udp: tuple[str, int],
    sample: int,
) -> list[Plan]:
    """Split the rate and the sample of trace ids to read back evenly between senders."""
    share = rate / senders
    expected = max(1, int(share / segments * duration))
    picks = min(expected, max(1, sample // senders))
    return [
        Plan(
            index,
            share,
            duration,
            segments,
            size,
            udp,
            frozenset(random.sample(range(expected), picks)),
        )
        for index in range(1, senders + 1)
    ]


def run(plans: list[Plan], on_start: Callable[[], None] = lambda: None) -> list[Result]:
    """Start one process per plan, start them together, and collect what each sent.

    ``on_start`` is called when every sender is ready, just before they start sending.
    """
    context: SpawnContext = multiprocessing.get_context("spawn")
    start = context.Event()
    results: multiprocessing.Queue[Result | int] = context.Queue()
    processes = [
        context.Process(target=_send, args=(plan, start, results), daemon=True) for plan in plans
    ]
    for process in processes:
        process.start()
    try:
        _collect(results, processes, READY_TIMEOUT_S)  # each sender's index, once it is ready
        on_start()
        start.set()
        longest = max(plan.duration for plan in plans)
        collected = _collect(results, processes, longest + REPORT_TIMEOUT_S)
    except BaseException:
        for process in processes:
            if process.is_alive():
                process.kill()
        raise
    finally:
        for process in processes:
            process.join(REPORT_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join()
    return [r for r in collected if isinstance(r, Result)]


def _collect(
    results: "multiprocessing.Queue[Result | int]",
    processes: list[SpawnProcess],
    timeout_s: float,
) -> list[Result | int]:
    """One message from each sender, failing fast if a sender dies before sending it."""
    deadline = time.monotonic() + timeout_s
    messages: list[Result | int] = []
    while len(messages) < len(processes):
        try:
            messages.append(results.get(timeout=0.2))
            continue
        except queue.Empty:
            pass
        failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
        if failed:
            raise RuntimeError(f"a sending process failed (exit status {failed[0]})")
        if time.monotonic() > deadline:
            raise RuntimeError("the sending processes did not answer in time")
    return messages


def _send(plan: Plan, start: Event, results: "multiprocessing.Queue[Result | int]") -> None:
    generator = TraceGenerator(plan.index, plan.segments, plan.size)
    trace = generator.trace
    family = socket.AF_INET6 if ":" in plan.udp[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sendto = sock.sendto
    address = plan.udp
    sample = plan.sample
    trace_rate = plan.rate / plan.segments
    burst = max(1, int(trace_rate * MAX_BURST_S))
    result = Result(plan.index)
    sampled = result.sampled
    traces = documents = size = errors = 0
    header = len(HEADER)
    results.put(plan.index)
    start.wait()
    cpu = time.process_time()
    began = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - began
        if elapsed >= plan.duration:
            break
        due = min(int(elapsed * trace_rate) + 1, traces + burst)
        if traces >= due:
            time.sleep(SLICE_S)
            continue
        now = time.time()
        while traces < due:
            trace_id, datagrams = trace(now)
            for datagram in datagrams:
                try:
                    sendto(datagram, address)
                except OSError:
                    errors += 1
                    continue
                documents += 1
                size += len(datagram) - header
            if traces in sample:
                sampled.append(trace_id)
            traces += 1
    result.seconds = time.perf_counter() - began
    result.cpu_seconds = time.process_time() - cpu
    result.traces = traces
    result.documents = documents
    result.bytes = size
    result.errors = errors
    sock.close()
    results.put(result)
