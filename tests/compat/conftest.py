"""Fixtures for the compat suite: real collector processes driven by real clients.

Every test here talks to a ``python -m fluoroscope serve`` process only through its sockets on
127.0.0.1: the aws-xray-sdk and hand-built datagrams over UDP, boto3, botocore's signer and the
AWS CLI over HTTP. Most tests share one collector (``collector``, ``xray``) and keep apart by
using fresh trace ids and their own time windows; tests that restart a collector, count its
metrics from zero or change its settings start their own (``make_collector``).
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_xray_sdk.core import AWSXRayRecorder

from tests.compat.process import Collector, Launcher
from tests.compat.queries import xray_client

_HERE = Path(__file__).parent

# Environment variables through which the aws-xray-sdk overrides ``configure()``.
_SDK_OVERRIDES = (
    "AWS_XRAY_DAEMON_ADDRESS",
    "AWS_XRAY_TRACING_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_NOOP_ID",
)


def pytest_sessionfinish() -> None:
    """Close the socket of the aws-xray-sdk's module-level recorder, opened at import."""
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.emitter._socket.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under this folder ``compat``."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.compat)


def _stop(launcher: Launcher) -> None:
    problems = launcher.stop_all()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """One collector with default settings, shared by every test that only needs one."""
    launcher = Launcher(tmp_path_factory.mktemp("shared-collector"))
    yield launcher.start()
    _stop(launcher)


@pytest.fixture(scope="session")
def xray(collector: Collector) -> Iterator[Any]:
    """A boto3 ``xray`` client for the shared collector."""
    client = xray_client(collector.endpoint_url)
    yield client
    client.close()


@pytest.fixture
def make_collector(tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    """Start collectors of this test's own: ``make_collector(data_dir=None, **env)``.

    ``data_dir`` reuses an earlier collector's store (a restart); ``console_script`` runs the
    installed ``fluoroscope`` script; ``otlp=False`` turns the OTLP receivers off; other keyword
    arguments are ``FLUOROSCOPE_*`` settings. Every collector still running at the end gets
    SIGTERM and must exit with status 0.
    """
    launcher = Launcher(tmp_path)

    def make(
        data_dir: Path | None = None,
        *,
        console_script: bool = False,
        otlp: bool = True,
        **env: str,
    ) -> Collector:
        return launcher.start(data_dir, env, console_script=console_script, otlp=otlp)

    yield make
    _stop(launcher)


@pytest.fixture(scope="module")
def make_module_collector(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Collector]]:
    """Like ``make_collector``, for collectors shared by the tests of one module."""
    launcher = Launcher(tmp_path_factory.mktemp("module-collector"))

    def make(data_dir: Path | None = None, **env: str) -> Collector:
        return launcher.start(data_dir, env)

    yield make
    _stop(launcher)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """boto3 ``xray`` clients for a collector: ``make_client(collector, **botocore_config)``."""
    clients: list[Any] = []

    def make(target: Collector, **config: Any) -> Any:
        client = xray_client(target.endpoint_url, **config)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AWSXRayRecorder]]:
    """aws-xray-sdk recorders sending to a collector: ``make_recorder(collector, **settings)``.

    Each is a fresh ``AWSXRayRecorder`` with ``sampling=False`` (everything is traced, no
    sampling calls) and ``context_missing="LOG_ERROR"``; ``settings`` go to ``configure()``.
    """
    for name in _SDK_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    recorders: list[AWSXRayRecorder] = []

    def make(target: Collector, **settings: Any) -> AWSXRayRecorder:
        recorder = AWSXRayRecorder()
        recorder.configure(
            daemon_address=target.daemon_address,
            sampling=False,
            context_missing="LOG_ERROR",
            plugins=(),
            **settings,
        )
        recorders.append(recorder)
        return recorder

    yield make
    for recorder in recorders:
        recorder.emitter._socket.close()  # the SDK never closes its emitter's socket
