"""A real ``fluoroscope serve`` process for the compat tests, and what talks to its sockets.

:class:`Launcher` starts collectors on free ports of 127.0.0.1 and stops exactly the processes
it started; :class:`Collector` is one of them, with its addresses, a UDP sender and its
``/metrics``.
"""

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.compat.documents import datagram

# Start-up opens SQLite and binds two sockets: well under a second; the bound is for a
# loaded CI machine.
READY_TIMEOUT_S = 20.0
# SIGTERM drains what was accepted into the store; the collector allows itself 30 s for that
# under load, and the tests never leave more than a few thousand documents behind.
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 10.0

_UDP_LINE = re.compile(r"udp://(?P<host>[^\s\[\]]+):(?P<port>\d+)")
_HTTP_LINE = re.compile(r"X-Ray API on (?P<url>http://\S+)")
_OTLP_GRPC_LINE = re.compile(r"OTLP/gRPC on (?P<address>\S+)")
_OTLP_HTTP_LINE = re.compile(r"OTLP/HTTP on (?P<url>http://\S+)")


class Metrics:
    """The samples of one ``/metrics`` scrape, by name and labels."""

    def __init__(self, text: str) -> None:
        self._samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self._samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; 0 for a counter child that was never incremented."""
        return self._samples.get((name, frozenset(labels.items())), 0.0)

    def by_label(self, name: str, label: str, **fixed: str) -> dict[str, float]:
        """The non-zero samples of ``name`` with the ``fixed`` labels, keyed by ``label``."""
        found = {}
        for (sample, labels), value in self._samples.items():
            values = dict(labels)
            if sample == name and value and fixed.items() <= values.items() and label in values:
                found[values[label]] = value
        return found


@dataclass
class Collector:
    """A running ``fluoroscope serve`` process and where it listens."""

    process: "subprocess.Popen[bytes]"
    data_dir: Path
    udp_address: tuple[str, int]
    endpoint_url: str
    log_path: Path
    # host:port of OTLP/gRPC, and the OTLP/HTTP traces URL.
    otlp_grpc: str = ""
    otlp_http: str = ""
    # What it printed when it was ready.
    ready_lines: list[str] = field(default_factory=list)

    @property
    def daemon_address(self) -> str:
        """The ``host:port`` X-Ray SDKs are given (``AWS_XRAY_DAEMON_ADDRESS`` form)."""
        host, port = self.udp_address
        return f"{host}:{port}"

    def send(self, *datagrams: bytes) -> None:
        """Send each datagram, as is, to the UDP port."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for payload in datagrams:
                sock.sendto(payload, self.udp_address)

    def send_documents(self, *documents: object) -> None:
        """Send each document in a datagram of its own, behind the SDK's header."""
        self.send(*(datagram(document) for document in documents))

    def get(self, path: str) -> tuple[int, bytes]:
        """``GET path`` on the HTTP port: the status and the body."""
        try:
            with urllib.request.urlopen(self.endpoint_url + path, timeout=HTTP_TIMEOUT_S) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def metrics(self) -> Metrics:
        """Scrape ``/metrics``."""
        status, body = self.get("/metrics")
        assert status == 200, body
        return Metrics(body.decode())

    def log(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def stop(self) -> int:
        """Send SIGTERM and wait for the exit status; kill (and raise) if it does not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the collector (pid {self.process.pid}) ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s"
                f" and was killed; its log:\n{self.log()}"
            ) from None


class Launcher:
    """Starts collectors with logs under ``workdir``, and stops every one it started."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._numbers = itertools.count(1)
        self._started: list[Collector] = []

    def start(
        self,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        *,
        console_script: bool = False,
        otlp: bool = True,
    ) -> Collector:
        """Start a collector on free ports and wait until it says it is ready.

        ``data_dir`` defaults to a fresh directory; giving an earlier collector's directory
        starts on its store. ``env`` adds ``FLUOROSCOPE_*`` settings; those of the calling
        environment are never inherited. ``console_script`` runs the installed ``fluoroscope``
        script instead of ``python -m fluoroscope``; ``otlp=False`` turns both OTLP receivers
        off.
        """
        number = next(self._numbers)
        data_dir = data_dir or self._workdir / f"data-{number}"
        out_path = self._workdir / f"collector-{number}.out"
        log_path = self._workdir / f"collector-{number}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FLUOROSCOPE_")}
        environment.update(env or {})
        program = (
            [str(Path(sys.executable).with_name("fluoroscope"))]
            if console_script
            else [sys.executable, "-m", "fluoroscope"]
        )
        command = [
            *program, "serve", "--data-dir", str(data_dir),
            "--udp", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--otlp-grpc", "127.0.0.1:0" if otlp else "off",
            "--otlp-http", "127.0.0.1:0" if otlp else "off",
        ]  # fmt: skip
        with out_path.open("wb") as out, log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=log, env=environment
            )
        collector = Collector(process, data_dir, ("", 0), "", log_path)
        self._started.append(collector)
        lines = self._wait_until_ready(collector, out_path)
        collector.ready_lines = lines
        udp = _search(_UDP_LINE, lines)
        collector.udp_address = (udp["host"], int(udp["port"]))
        collector.endpoint_url = _search(_HTTP_LINE, lines)["url"]
        if otlp:
            collector.otlp_grpc = _search(_OTLP_GRPC_LINE, lines)["address"]
            collector.otlp_http = _search(_OTLP_HTTP_LINE, lines)["url"]
        return collector

    def _wait_until_ready(self, collector: Collector, out_path: Path) -> list[str]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            lines = out_path.read_text().splitlines()
            if any(line.endswith(": ready") for line in lines):
                return lines
            if not collector.running:
                raise AssertionError(
                    f"the collector exited with status {collector.process.returncode} "
                    f"before it was ready; its log:\n{collector.log()}"
                )
            if time.monotonic() > deadline:
                collector.process.kill()
                collector.process.wait()
                raise AssertionError(
                    f"the collector was not ready within {READY_TIMEOUT_S:.0f} s; "
                    f"it printed {lines!r}; its log:\n{collector.log()}"
                )
            time.sleep(0.02)

    def stop_all(self) -> list[str]:
        """Stop every collector still running; describe each that did not exit cleanly."""
        problems = []
        for collector in self._started:
            if collector.process.returncode is not None:
                continue  # a test stopped it and checked its status itself
            try:
                status = collector.stop()
            except AssertionError as exc:
                problems.append(str(exc))
                continue
            if status != 0:
                problems.append(
                    f"the collector (pid {collector.process.pid}) exited with status {status} "
                    f"on SIGTERM; its log:\n{collector.log()}"
                )
        return problems


def _search(pattern: re.Pattern[str], lines: Iterable[str]) -> dict[str, Any]:
    for line in lines:
        match = pattern.search(line)
        if match is not None:
            return match.groupdict()
    raise AssertionError(f"no ready line matches {pattern.pattern!r}: {list(lines)!r}")
