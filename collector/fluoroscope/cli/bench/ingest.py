"""``fluoroscope bench ingest``: X-Ray segments over UDP at a fixed rate, and what became of them.

Reports the offered and achieved rates, documents stored and lost (with the collector's own
reasons: kernel socket drops, a full pipeline, refusals), whether a sample of the traces sent
can be read back whole, the time from datagram to queryable (probe traces sent throughout the
run and polled with BatchGetTraces), and the collector's resident memory.
"""

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from fluoroscope.cli.bench.client import Api, Collector, parse_address, start_collector, total
from fluoroscope.cli.bench.report import print_table
from fluoroscope.cli.bench.segments import HEADER, TraceGenerator

# Probe traces: one every PROBE_INTERVAL_S, polled every POLL_INTERVAL_S.
PROBE_INTERVAL_S = 0.1
POLL_INTERVAL_S = 0.01
# One trace in SAMPLE_EVERY is read back at the end to check it arrived whole.
SAMPLE_EVERY = 500
# After sending, wait until nothing more is written for SETTLE_S (at most MAX_WAIT_S).
SETTLE_S = 3.0
MAX_WAIT_S = 300.0


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench ingest``."""
    parser = benches.add_parser(
        "ingest",
        help="offer X-Ray segments over UDP and report loss, latency and memory",
        description=__doc__,
    )
    parser.add_argument("--rate", type=int, default=60_000, help="segments per second offered")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to offer them")
    parser.add_argument(
        "--segments-per-trace", type=int, default=3, help="documents per trace (1-7)"
    )
    parser.add_argument("--senders", type=int, default=1, help="sending processes")
    parser.add_argument("--udp", help="a running collector's UDP address (else one is started)")
    parser.add_argument("--endpoint", help="that collector's HTTP address")
    parser.add_argument("--pid", type=int, help="that collector's pid, to report its memory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; exit status 1 if anything was lost or cannot be read back."""
    with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
        if args.udp:
            if not args.endpoint:
                raise SystemExit("--udp needs --endpoint too")
            collector = Collector(parse_address(args.udp), parse_address(args.endpoint), args.pid)
        else:
            collector = start_collector(Path(scratch))
        try:
            return _measure(args, collector)
        finally:
            collector.stop()


def _measure(args: argparse.Namespace, collector: Collector) -> int:
    api = Api(collector.http)
    before = api.metrics()
    memory = _MemorySampler(collector.pid)
    probes = _Probes(collector)
    memory.start()
    probes.start()
    results = _send_all(args, collector.udp)
    sending = max(r["seconds"] for r in results)
    probes.stop_sending()
    written = _settle(api)
    probes.stop()
    memory.stop()
    after = api.metrics()

    sent = sum(r["documents"] for r in results)
    stored = written - total(before, "fluoroscope_store_documents_written") - probes.sent
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    missing = _verify(api, [tid for r in results for tid in r["sample"]], args.segments_per_trace)
    api.close()
    lost = sent - stored
    latencies = sorted(probes.latencies)
    rows = [
        ("command", f"fluoroscope bench ingest --rate {args.rate} --duration {args.duration:g} "
                    f"--segments-per-trace {args.segments_per_trace} --senders {args.senders}"),
        ("machine", f"{os.cpu_count()} cores, sender on the same machine"),
        ("document size", f"{results[0]['mean_size']:.0f} bytes on average"),
        ("offered rate", f"{args.rate:,} segments/s for {args.duration:g} s"),
        ("achieved send rate", f"{sent / sending:,.0f} segments/s"),
        ("segments sent", f"{sent:,}"),
        ("segments stored", f"{stored:,.0f}"),
        ("lost", f"{lost:,.0f}"),
        ("  kernel socket drops", f"{delta.get('fluoroscope_udp_kernel_drops', 0):,.0f}"),
        ("  pipeline full", f"{_refused(delta, 'queue_full'):,.0f}"),
        ("  refused as invalid", f"{total(delta, 'fluoroscope_documents_refused_total'):,.0f}"),
        ("sampled traces read back",
         f"{len(missing[1]) - len(missing[0]):,} of {len(missing[1]):,} whole"),
        ("datagram to queryable", _latency(latencies)),
        ("probes", f"{len(latencies)} of {probes.sent} found"),
        ("collector memory (RSS)", memory.describe()),
    ]  # fmt: skip
    print_table("fluoroscope bench ingest", rows)
    return 0 if lost == 0 and not missing[0] and len(latencies) == probes.sent else 1


def _send_all(args: argparse.Namespace, udp: tuple[str, int]) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    start_at = time.time() + 1.0
    share = args.rate / args.senders
    workers = [
        context.Process(
            target=_sender,
            args=(index, share, args.duration, args.segments_per_trace, udp, start_at, queue),
        )
        for index in range(args.senders)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=args.duration + 120) for _ in workers]
    for worker in workers:
        worker.join(10)
    return results


def _sender(
    index: int,
    rate: float,
    duration: float,
    segments: int,
    udp: tuple[str, int],
    start_at: float,
    queue: "multiprocessing.Queue[dict[str, Any]]",
) -> None:
    """One sending process: traces at ``rate`` segments/s, paced in ~1 ms slices."""
    generator = TraceGenerator(index + 1, segments)
    sock = socket.socket(socket.AF_INET6 if ":" in udp[0] else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sendto = sock.sendto
    sample: list[str] = []
    sent = 0
    size = 0
    traces = 0
    time.sleep(max(0.0, start_at - time.time()))
    began = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - began
        if elapsed >= duration:
            break
        due = int(elapsed * rate)
        now = time.time()
        while sent < due:
            trace_id, documents = generator.trace(now)
            for document in documents:
                while True:
                    try:
                        sendto(document, udp)
                        break
                    except BlockingIOError:  # the local send buffer is full: retry, not drop
                        time.sleep(0.0001)
                size += len(document) - len(HEADER)
            sent += len(documents)
            if traces % SAMPLE_EVERY == 0:
                sample.append(trace_id)
            traces += 1
        time.sleep(0.0005)
    seconds = time.perf_counter() - began
    queue.put(
        {"documents": sent, "sample": sample, "mean_size": size / max(1, sent), "seconds": seconds}
    )


def _settle(api: Api) -> float:
    """Wait until the collector has written everything it will; return the written count."""
    deadline = time.monotonic() + MAX_WAIT_S
    last = -1.0
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        samples = api.metrics()
        written = total(samples, "fluoroscope_store_documents_written")
        busy = total(samples, "fluoroscope_queue_documents") > 0
        if written != last or busy:
            last = written
            stable_since = time.monotonic()
        elif time.monotonic() - stable_since >= SETTLE_S:
            return written
        time.sleep(0.25)
    return last


def _verify(api: Api, trace_ids: list[str], segments: int) -> tuple[list[str], list[str]]:
    """Read sampled traces back; return (ids missing or incomplete, ids checked)."""
    missing = []
    for offset in range(0, len(trace_ids), 5):
        batch = trace_ids[offset : offset + 5]
        reply = api.call("/Traces", {"TraceIds": batch})
        found = {t["Id"]: len(t["Segments"]) for t in reply["Traces"]}
        missing += [tid for tid in batch if found.get(tid) != segments]
    return missing, trace_ids


def _refused(samples: dict[str, float], reason: str) -> float:
    return samples.get(f'fluoroscope_udp_datagrams_refused_total{{reason="{reason}"}}', 0.0)


def _latency(latencies: list[float]) -> str:
    if not latencies:
        return "no probe was found"
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return (
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )


class _Probes:
    """Sends uniquely identified one-segment traces and times until each is queryable."""

    def __init__(self, collector: Collector) -> None:
        self._udp = collector.udp
        self._api = Api(collector.http)
        self._generator = TraceGenerator(0xFF, 1)
        self._outstanding: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sending = threading.Event()
        self._polling = threading.Event()
        self.latencies: list[float] = []
        self.sent = 0
        self._threads = [
            threading.Thread(target=self._send, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    def start(self) -> None:
        self._sending.set()
        self._polling.set()
        for thread in self._threads:
            thread.start()

    def stop_sending(self) -> None:
        self._sending.clear()
        self._threads[0].join()

    def stop(self) -> None:
        deadline = time.monotonic() + 30
        while self._outstanding and time.monotonic() < deadline:
            time.sleep(0.05)
        self._polling.clear()
        self._threads[1].join()
        self._api.close()

    def _send(self) -> None:
        with socket.socket(
            socket.AF_INET6 if ":" in self._udp[0] else socket.AF_INET, socket.SOCK_DGRAM
        ) as sock:
            while self._sending.is_set():
                trace_id, documents = self._generator.trace()
                with self._lock:
                    self._outstanding[trace_id] = time.monotonic()
                sock.sendto(documents[0], self._udp)
                self.sent += 1
                time.sleep(PROBE_INTERVAL_S)

    def _poll(self) -> None:
        while self._polling.is_set():
            with self._lock:
                waiting = list(self._outstanding)[:5]
            if waiting:
                reply = self._api.call("/Traces", {"TraceIds": waiting})
                now = time.monotonic()
                with self._lock:
                    for trace in reply["Traces"]:
                        sent_at = self._outstanding.pop(trace["Id"], None)
                        if sent_at is not None:
                            self.latencies.append(now - sent_at)
            time.sleep(POLL_INTERVAL_S)


class _MemorySampler:
    """Samples the collector's resident memory once a second."""

    def __init__(self, pid: int | None) -> None:
        self._process = psutil.Process(pid) if pid is not None else None
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self._process is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        assert self._process is not None
        while not self._stop.wait(1.0):
            try:
                self._samples.append(self._process.memory_info().rss)
            except psutil.Error:
                return

    def describe(self) -> str:
        if not self._samples:
            return "not measured (give --pid)"
        mib = 1 << 20
        return (
            f"median {statistics.median(self._samples) / mib:.0f} MiB, "
            f"max {max(self._samples) / mib:.0f} MiB"
        )
