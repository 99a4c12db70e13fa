"""boto3 clients for a collector, and bounded waits for what was sent to it to land.

Documents become queryable one flush interval (200 ms by default) after they arrive, so every
wait here polls, with a deadline of a few seconds, rather than sleeping.
"""

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from tests.compat.documents import segment, trace_epoch

T = TypeVar("T")

POLL_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.02
# BatchGetTraces takes at most five ids per call.
BATCH_IDS = 5


def xray_client(endpoint_url: str, **config: Any) -> Any:
    """A boto3 ``xray`` client for a collector: dummy credentials, us-east-1, no retries.

    Without retries an error reaches the test as the collector sent it; ``config`` overrides
    botocore ``Config`` settings (``signature_version=UNSIGNED``, for example).
    """
    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": 5,
        "read_timeout": 15,
    }
    settings.update(config)
    return boto3.session.Session().client(
        "xray",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(**settings),
    )


def eventually(probe: Callable[[], T | None], what: str, timeout: float = POLL_TIMEOUT_S) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def wait_for_metric(
    collector: Any, name: str, expected: float, timeout: float = POLL_TIMEOUT_S, **labels: str
) -> None:
    """Poll ``/metrics`` until the sample ``name`` with ``labels`` equals ``expected``."""
    last = None

    def probe() -> bool | None:
        nonlocal last
        last = collector.metrics().value(name, **labels)
        return True if last == expected else None

    try:
        eventually(probe, f"{name}{labels or ''} to reach {expected:g}", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it is {last:g}") from None


def get_traces(client: Any, trace_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """BatchGetTraces for any number of ids: the traces found, by their returned Id."""
    ids = list(trace_ids)
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), BATCH_IDS):
        reply = client.batch_get_traces(TraceIds=ids[i : i + BATCH_IDS])
        found.update((trace["Id"], trace) for trace in reply["Traces"])
    return found


def wait_for_traces(
    client: Any,
    trace_ids: Sequence[str],
    until: Callable[[dict[str, Any]], bool] = lambda trace: True,
    timeout: float = POLL_TIMEOUT_S,
) -> dict[str, dict[str, Any]]:
    """Poll BatchGetTraces until every id is found and ``until`` holds for each trace."""
    last: dict[str, dict[str, Any]] = {}

    def probe() -> dict[str, dict[str, Any]] | None:
        nonlocal last
        last = get_traces(client, trace_ids)
        if all(i in last and until(last[i]) for i in trace_ids):
            return last
        return None

    try:
        return eventually(probe, f"BatchGetTraces to find {list(trace_ids)}", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last reply: {json.dumps(last, default=str)[:4000]}") from None


def wait_for_trace(
    client: Any,
    trace_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda trace: True,
    timeout: float = POLL_TIMEOUT_S,
) -> dict[str, Any]:
    """Poll BatchGetTraces until ``trace_id`` is found and ``until`` holds for it."""
    return wait_for_traces(client, [trace_id], until, timeout)[trace_id]


def documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The processed documents of a BatchGetTraces trace that its services sent, parsed (the
    inferred segments added for downstream calls are left out: see :func:`inferred`)."""
    return [d for d in _parsed(trace) if d.get("inferred") is not True]


def inferred(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The inferred segments of a BatchGetTraces trace, parsed."""
    return [d for d in _parsed(trace) if d.get("inferred") is True]


def _parsed(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(item["Document"]) for item in trace["Segments"]]


def the_document(trace: dict[str, Any]) -> dict[str, Any]:
    """The one processed document of a single-segment trace."""
    (document,) = documents(trace)
    return document


def summaries(client: Any, **request: Any) -> list[dict[str, Any]]:
    """Every GetTraceSummaries result for ``request``, following NextToken to the end."""
    pages = client.get_paginator("get_trace_summaries").paginate(**request)
    return [summary for page in pages for summary in page["TraceSummaries"]]


def summary_of(client: Any, trace_id: str) -> dict[str, Any] | None:
    """The trace's summary, looked up in the second its id names, or None."""
    epoch = trace_epoch(trace_id)
    for summary in summaries(client, StartTime=epoch, EndTime=epoch + 1):
        if summary["Id"] == trace_id:
            return summary
    return None


def wait_for_summary(
    client: Any,
    trace_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda summary: True,
    timeout: float = POLL_TIMEOUT_S,
) -> dict[str, Any]:
    """Poll GetTraceSummaries until the trace is listed and ``until`` holds for its summary."""
    last: dict[str, Any] | None = None

    def probe() -> dict[str, Any] | None:
        nonlocal last
        last = summary_of(client, trace_id)
        return last if last is not None and until(last) else None

    try:
        return eventually(probe, f"the summary of {trace_id}", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last summary: {json.dumps(last, default=str)}") from None


def settle(collector: Any, client: Any) -> None:
    """Return once everything sent to ``collector`` over UDP so far has been processed.

    A fresh marker segment is sent behind it and waited for: datagrams are read, queued and
    flushed in order, so once the marker is stored, everything before it is too.
    """
    marker = segment(name="marker")
    collector.send_documents(marker)
    wait_for_trace(client, marker["trace_id"])
