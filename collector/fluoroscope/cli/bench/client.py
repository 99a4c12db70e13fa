"""What the benchmarks need from a collector: start one, read its metrics, call its API."""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

# How long a collector may take to print its ready line, and to stop after SIGTERM.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0

# The ready lines that name the X-Ray listeners, and the OTLP/gRPC one when it is asked for.
_LISTENER = re.compile(r"X-Ray (daemon protocol on udp|API on http)://(\S+)")
_OTLP_GRPC = re.compile(r"OTLP/gRPC on (\S+)")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$")


@dataclass
class Collector:
    """A collector process, started here or already running, and its addresses."""

    udp: tuple[str, int]
    http: tuple[str, int]
    pid: int | None
    process: "subprocess.Popen[bytes] | None" = None
    otlp_grpc: tuple[str, int] | None = None

    def stop(self) -> None:
        """Stop the collector this benchmark started (never one it was pointed at)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def inherited_settings() -> str:
    """The ``FLUOROSCOPE_*`` settings a collector started here takes from the environment."""
    settings = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("FLUOROSCOPE_"))
    return ", ".join(settings) if settings else "none (defaults)"


def start_collector(
    data_dir: Path, env: Mapping[str, str] | None = None, *, otlp_grpc: bool = False
) -> Collector:
    """Run ``fluoroscope serve`` on free loopback ports and wait until it is ready.

    ``env`` adds settings (``FLUOROSCOPE_*`` variables) to the inherited environment.
    ``otlp_grpc`` also listens for OTLP/gRPC (OTLP is otherwise off).
    """
    command = [
        *(sys.executable, "-m", "fluoroscope", "serve", "--data-dir", str(data_dir)),
        *("--udp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warning"),
        *("--otlp-grpc", "127.0.0.1:0" if otlp_grpc else "off", "--otlp-http", "off"),
    ]
    wanted = {"udp", "http", "otlp_grpc"} if otlp_grpc else {"udp", "http"}
    environment = {**os.environ, **env} if env else None
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=environment)
    assert process.stdout is not None
    addresses: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    # readline blocks, but a collector that fails to start exits, which ends the output.
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if not line:
            break
        match = _LISTENER.search(line)
        if match:
            kind = "udp" if match.group(1).endswith("udp") else "http"
            addresses[kind] = parse_address(match.group(2))
        match = _OTLP_GRPC.search(line)
        if match:
            addresses["otlp_grpc"] = parse_address(match.group(1))
        if line.rstrip().endswith(": ready") and wanted <= addresses.keys():
            return Collector(
                addresses["udp"],
                addresses["http"],
                process.pid,
                process,
                addresses.get("otlp_grpc"),
            )
    Collector(("", 0), ("", 0), process.pid, process).stop()
    raise RuntimeError(f"the collector did not start (exit status {process.poll()})")


def parse_address(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or an ``http://host:port`` URL."""
    text = text.removeprefix("http://").removeprefix("udp://").rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


class Metrics(dict[str, float]):
    """One reading of ``/metrics``: each sample's value, keyed as exposed (name and labels)."""

    def family(self, name: str) -> float:
        """The sum of a metric's samples over all of its labels."""
        labelled = name + "{"
        return sum(v for k, v in self.items() if k == name or k.startswith(labelled))

    def minus(self, earlier: "Metrics") -> "Metrics":
        """The change from ``earlier`` to this reading."""
        return Metrics({key: value - earlier.get(key, 0.0) for key, value in self.items()})


class Api:
    """One keep-alive HTTP connection to a collector, used as botocore would use it."""

    def __init__(self, address: tuple[str, int], timeout: float = 30.0) -> None:
        self._connection = http.client.HTTPConnection(*address, timeout=timeout)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to an operation's path; return the decoded reply."""
        status, data = self._request("POST", path, orjson.dumps(body))
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {data[:200]!r}")
        reply: dict[str, Any] = orjson.loads(data)
        return reply

    def metrics(self) -> Metrics:
        """Every sample on ``/metrics``."""
        status, data = self._request("GET", "/metrics", None)
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        samples = Metrics()
        for line in data.decode().splitlines():
            match = _SAMPLE.match(line)
            if match:
                try:
                    samples[match.group(1)] = float(match.group(2))
                except ValueError:
                    continue
        return samples

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            try:
                self._connection.request(method, path, body, headers)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self._connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


# After sending, wait until the written count has not moved for SETTLE_QUIET_S (the store's
# flush interval is 0.2 s by default) and nothing waits in its queue or spool, but never
# longer than SETTLE_LIMIT_S (a spooled burst takes minutes to work through).
SETTLE_QUIET_S = 3.0
SETTLE_LIMIT_S = 600.0
SETTLE_POLL_S = 0.2
_WRITTEN = "fluoroscope_store_documents_written_total"


def settle(api: Api, before: Metrics, expected: int) -> tuple[float, bool]:
    """Wait until the collector has written all it will; return (documents written, settled).

    Documents acknowledged are stored already; what may still come are those refused as not
    stored in time or given up on by their sender, which the collector goes on storing.
    """
    deadline = time.monotonic() + SETTLE_LIMIT_S
    last = -1.0
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        now = api.metrics()
        written = now.get(_WRITTEN, 0.0) - before.get(_WRITTEN, 0.0)
        if written >= expected:
            return written, True
        waiting = now.get("fluoroscope_queue_documents", 0.0) + now.family(
            "fluoroscope_spool_items"
        )
        if written != last or waiting > 0:
            last = written
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_QUIET_S:
            return written, True
        time.sleep(SETTLE_POLL_S)
    return last, False


def timed(repeat: int, call: Callable[[], dict[str, Any]]) -> tuple[list[float], dict[str, Any]]:
    """Call once untimed (warming caches), then ``repeat`` times timed; the last reply."""
    reply = call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        reply = call()
        samples.append(time.perf_counter() - started)
    return samples, reply
