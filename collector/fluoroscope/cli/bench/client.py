"""What the benchmarks need from a collector: start one, read its metrics, query it over HTTP."""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_LISTENER = re.compile(r" on (udp|http)://(\S+)")
_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$")


@dataclass
class Collector:
    """A collector process (started here or already running) and its addresses."""

    udp: tuple[str, int]
    http: tuple[str, int]
    pid: int | None
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the collector this benchmark started (never one it was pointed at)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_collector(data_dir: Path, extra_env: dict[str, str] | None = None) -> Collector:
    """Run ``fluoroscope serve`` on free ports and wait for its ready line."""
    env = dict(os.environ, **(extra_env or {}))
    command = [
        *(sys.executable, "-m", "fluoroscope", "serve", "--data-dir", str(data_dir)),
        *("--udp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "warning"),
        *("--otlp-grpc", "off", "--otlp-http", "off"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    addresses: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if not line:
            break
        match = _LISTENER.search(line)
        if match:
            addresses[match.group(1)] = parse_address(match.group(2))
        if line.rstrip().endswith(": ready"):
            return Collector(addresses["udp"], addresses["http"], process.pid, process)
    process.kill()
    raise RuntimeError("the collector did not become ready")


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` or an ``http://host:port`` URL."""
    text = text.removeprefix("http://").rstrip("/")
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Api:
    """A keep-alive HTTP connection for timing requests as botocore makes them."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._connection = http.client.HTTPConnection(*address, timeout=30)

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to an operation path; return the decoded reply."""
        self._connection.request(
            "POST", path, orjson.dumps(body), {"Content-Type": "application/json"}
        )
        response = self._connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {data[:200]!r}")
        reply: dict[str, Any] = orjson.loads(data)
        return reply

    def metrics(self) -> dict[str, float]:
        """Every sample on /metrics, keyed by name plus labels."""
        self._connection.request("GET", "/metrics")
        response = self._connection.getresponse()
        text = response.read().decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match:
                samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        return samples

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def total(samples: dict[str, float], prefix: str) -> float:
    """The sum of every sample whose name and labels start with ``prefix``."""
    return sum(value for key, value in samples.items() if key.startswith(prefix))
