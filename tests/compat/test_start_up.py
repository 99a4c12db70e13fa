"""Start-up refusals: the collector stops at once, with one message naming what is wrong."""

import socket
import subprocess
import sys
from pathlib import Path

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
