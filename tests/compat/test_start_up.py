"""Start-up refusals: the collector stops at once, with one message naming what is wrong."""

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest


def _serve(data_dir: Path, *listeners: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fluoroscope", "serve", "--data-dir", str(data_dir), *listeners],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_second_collector_on_a_data_directory_in_use_refuses_to_start(make_collector):
    """Two collectors writing one store would give different traces the same rows: the second
    stops at once, saying which process has the directory."""
    first = make_collector(otlp=False)
    second = _serve(
        first.data_dir, "--udp", "127.0.0.1:0", "--http", "127.0.0.1:0",
        "--otlp-grpc", "off", "--otlp-http", "off",
    )  # fmt: skip

    assert second.returncode == 1
    assert f"is in use by another Fluoroscope (pid {first.process.pid})" in second.stderr
    assert first.get("/healthz")[0] == 200


@pytest.mark.parametrize(
    ("kind", "flag", "said"),
    [
        (socket.SOCK_DGRAM, "--udp", "the X-Ray daemon protocol on udp"),
        (socket.SOCK_STREAM, "--http", "the X-Ray API on tcp"),
        (socket.SOCK_STREAM, "--otlp-grpc", "OTLP/gRPC on tcp"),
        (socket.SOCK_STREAM, "--otlp-http", "OTLP/HTTP on tcp"),
    ],
)
def test_an_address_in_use_is_named_with_its_listener(tmp_path, kind, flag, said):
    """With the defaults UDP and HTTP share port 2000: the message says which one failed."""
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        listeners = {"--udp": "127.0.0.1:0", "--http": "127.0.0.1:0",
                     "--otlp-grpc": "off", "--otlp-http": "off", flag: address}  # fmt: skip
        result = _serve(tmp_path, *(part for item in listeners.items() for part in item))

    assert result.returncode == 1
    assert f"cannot listen: {said} {address} ({flag}):" in result.stderr


def test_helper_processes_exit_when_their_collector_is_killed(make_collector):
    """A SIGKILL gives the collector no chance to stop its helpers: they must go by themselves,
    or every crash leaves orphans holding memory."""
    collector = make_collector()
    request = json.dumps({"resourceSpans": []}).encode()
    http = urllib.request.Request(
        collector.otlp_http, data=request, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(http, timeout=10) as reply:  # starts the translation helper
        assert reply.status == 200
    helpers = psutil.Process(collector.process.pid).children()
    assert helpers, "no helper process was started"

    collector.process.send_signal(signal.SIGKILL)
    collector.process.wait(10)
    _, alive = psutil.wait_procs(helpers, timeout=10)

    assert alive == []
