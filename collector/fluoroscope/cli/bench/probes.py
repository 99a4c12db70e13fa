"""Watching a collector during a run: probe traces for latency, and its memory and CPU.

:class:`Probes` sends a uniquely identified one-segment trace on a fixed schedule and polls
BatchGetTraces over one keep-alive connection until each is found: the time from its datagram
to its being queryable. Polling is one call of up to five ids per interval, for the probes
polled least recently, so that measuring adds a fixed, small load (100 calls a second at most)
however far behind the collector falls. A probe is presumed lost once a probe sent
:data:`LOST_AFTER_S` after it has been found (a collector stores in arrival order, within a
flush); presumed-lost probes are looked for once more at the end.

:class:`ResourceSampler` reads the collector's memory once a second, and its CPU time at the
start and the end, with and without its helper processes.
"""

import socket
import threading
import time

import psutil

from fluoroscope.cli.bench.client import Api
from fluoroscope.cli.bench.report import Report, mebibytes
from fluoroscope.cli.bench.segments import TraceGenerator

# Generator sender number reserved for probes (load senders are 1-255).
PROBE_SENDER = 0
# BatchGetTraces takes at most five ids per call.
BATCH_IDS = 5
LOST_AFTER_S = 2.0


class Probes:
    """Probe traces sent every ``interval_s``; one BatchGetTraces call every ``poll_s``."""

    def __init__(
        self,
        udp: tuple[str, int],
        http: tuple[str, int],
        size: int,
        interval_s: float = 0.05,
        poll_s: float = 0.01,
    ) -> None:
        self._udp = udp
        self._api = Api(http)
        self._generator = TraceGenerator(PROBE_SENDER, 1, size)
        self.interval_s = interval_s
        self.poll_s = poll_s
        # Trace id -> [when it was sent, when it was last polled] (monotonic), in send order.
        self._outstanding: dict[str, list[float]] = {}
        self._presumed_lost: dict[str, float] = {}
        self._lock = threading.Lock()  # guards the two dicts above, latencies and sent
        self._sending = threading.Event()
        self._polling = threading.Event()
        self.latencies: list[float] = []
        self.found_late = 0  # found only by the last look, after the run: no latency
        self.sent = 0
        self.errors = 0  # polls the collector did not answer
        self._sender = threading.Thread(target=self._send, name="bench-probe-send", daemon=True)
        self._poller = threading.Thread(target=self._poll, name="bench-probe-poll", daemon=True)

    @property
    def found(self) -> int:
        """Probes found, with or without a latency."""
        return len(self.latencies) + self.found_late

    @property
    def outstanding(self) -> int:
        """Probes sent, not found, and not presumed lost."""
        with self._lock:
            return len(self._outstanding)

    def start(self) -> None:
        """Start sending and polling."""
        self._sending.set()
        self._polling.set()
        self._sender.start()
        self._poller.start()

    def stop_sending(self) -> None:
        """Send no more probes."""
        self._sending.clear()
        if self._sender.is_alive():
            self._sender.join()

    def stop(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for outstanding probes, stop, and look for the rest once."""
        deadline = time.monotonic() + timeout_s
        while self.outstanding and time.monotonic() < deadline:
            time.sleep(self.poll_s)
        self._polling.clear()
        if self._poller.is_alive():
            self._poller.join()
        remaining = list(self._presumed_lost) + list(self._outstanding)
        for offset in range(0, len(remaining), BATCH_IDS):
            reply = self._call(remaining[offset : offset + BATCH_IDS])
            self.found_late += len(reply)
        self._api.close()

    def _send(self) -> None:
        family = socket.AF_INET6 if ":" in self._udp[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            due = time.monotonic()
            while self._sending.is_set():
                trace_id, datagrams = self._generator.trace()
                with self._lock:
                    self._outstanding[trace_id] = [time.monotonic(), 0.0]
                    self.sent += 1
                sock.sendto(datagrams[0], self._udp)
                due += self.interval_s
                time.sleep(max(0.0, due - time.monotonic()))

    def _poll(self) -> None:
        while self._polling.is_set():
            with self._lock:
                # Least recently polled first; never-polled probes (0.0) come first of all.
                batch = sorted(self._outstanding, key=lambda k: self._outstanding[k][1])
                del batch[BATCH_IDS:]
                polled = time.monotonic()
                for trace_id in batch:
                    self._outstanding[trace_id][1] = polled
            if batch:
                found = self._call(batch)
                now = time.monotonic()
                with self._lock:
                    for trace_id in found:
                        sent = self._outstanding.pop(trace_id)[0]
                        self.latencies.append(now - sent)
                        self._presume_lost_before(sent - LOST_AFTER_S)
            time.sleep(self.poll_s)

    def _presume_lost_before(self, moment: float) -> None:
        for trace_id, (sent, _) in list(self._outstanding.items()):
            if sent >= moment:
                break  # the rest were sent later still
            del self._outstanding[trace_id]
            self._presumed_lost[trace_id] = sent

    def _call(self, trace_ids: list[str]) -> list[str]:
        """The ids among ``trace_ids`` that BatchGetTraces finds."""
        try:
            reply = self._api.call("/Traces", {"TraceIds": trace_ids})
        except (OSError, RuntimeError):
            self.errors += 1
            return []
        return [trace["Id"] for trace in reply.get("Traces", ()) if trace["Id"] in trace_ids]


class ResourceSampler:
    """The collector's memory once a second, and its CPU time while sending: its own process's,
    and with the helper processes it starts (its children, the multiprocessing resource
    tracker included), whose memory is summed as PSS so that pages they share with it, such
    as the interpreter's, count once."""

    def __init__(self, pid: int | None, interval_s: float = 1.0) -> None:
        self._process = psutil.Process(pid) if pid is not None else None
        self._interval = interval_s
        self.rss: list[int] = []  # the collector's own process
        self.total: list[int] = []  # PSS of the collector and its children together
        self.children = 0  # child processes at the last sample
        self.cores: float | None = None  # CPU seconds per second between start and lap
        self.children_cores: float | None = None
        self._cpu_start: dict[int, float] = {}
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def start(self) -> None:
        """Start sampling memory, and counting CPU time."""
        if self._process is None:
            return
        for process in [self._process, *self._children()]:
            try:
                self._cpu_start[process.pid] = _cpu(process)
            except psutil.Error:
                continue
        self._started = time.monotonic()
        self._thread.start()

    def lap(self) -> None:
        """Take the CPU time used since :meth:`start` (memory is sampled on).

        A child that started since counts whole; one that ended since is not counted.
        """
        if self._process is None or not self._started:
            return
        elapsed = max(1e-9, time.monotonic() - self._started)
        try:
            self.cores = (_cpu(self._process) - self._cpu_start[self._process.pid]) / elapsed
        except psutil.Error:
            return
        used = 0.0
        for child in self._children():
            try:
                used += _cpu(child) - self._cpu_start.get(child.pid, 0.0)
            except psutil.Error:
                continue
        self.children_cores = used / elapsed

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def report(self, report: Report) -> None:
        """The rows of a report's collector section."""
        if self._process is None:
            report.row("memory (RSS)", "not measured (give --pid)")
            return
        report.row("memory (RSS, 1 s samples to the end)", mebibytes(self.rss))
        report.row(
            f"with its {self.children} child processes (PSS)",
            mebibytes(self.total) if self.children else "no child processes",
        )
        if self.cores is not None:
            report.row("CPU while sending", f"{self.cores:.2f} cores on average")
        if self.children_cores is not None and self.children:
            report.row("  child processes", f"{self.children_cores:.2f} cores on average")

    def _children(self) -> list[psutil.Process]:
        assert self._process is not None
        try:
            return list(self._process.children(recursive=True))
        except psutil.Error:
            return []

    def _run(self) -> None:
        assert self._process is not None
        while not self._stop.wait(self._interval):
            try:
                self.rss.append(self._process.memory_info().rss)
                together = _pss(self._process)
            except psutil.Error:  # the collector is gone
                return
            children = self._children()
            for child in children:
                try:
                    together += _pss(child)
                except psutil.Error:  # a child that just ended
                    continue
            self.children = len(children)
            self.total.append(together)


def _pss(process: psutil.Process) -> int:
    """Proportional set size: resident pages, each shared one divided among its sharers."""
    return int(process.memory_full_info().pss)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)
