"""A collector that shares summaries with a helper process answers exactly as one that does not.

Two collectors take the same traces through boto3's PutTraceSegments, in batches large enough
for the first to hand shares to its helper: summaries, the service graph and a group's graph
read back through boto3 must be the same from both.
"""

import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from tests.compat.documents import dumps, new_id, new_trace_id, new_window, segment
from tests.compat.process import Collector
from tests.compat.queries import eventually, summaries, xray_client

TRACES = 300
# Documents per PutTraceSegments call: each call is one flush of 100 new traces.
PUT_BATCH = 200
SHARED = "fluoroscope_summary_shared_traces_total"
WARM_UP_ATTEMPTS = 40


def _trace(window: int, number: int) -> list[dict[str, Any]]:
    """``front`` calling ``back``: two segments, statuses and annotations varying by number."""
    trace_id = new_trace_id(window + 10 * number)
    status = (200, 500, 429, 404)[number % 4]
    call_id = new_id()
    front = segment(
        trace_id,
        name="front",
        duration=0.05 + number % 7 / 100,
        http={
            "request": {"method": "GET", "url": f"http://front/{number}"},
            "response": {"status": status},
        },
        fault=status == 500,
        error=status in (404, 429),
        throttle=status == 429,
        annotations={"tenant": f"t{number % 3}", "attempt": number % 5, "paid": number % 2 == 0},
        subsegments=[
            {
                "id": call_id,
                "name": "back",
                "namespace": "remote",
                "start_time": window + 10 * number + 0.13,
                "end_time": window + 10 * number + 0.16,
                "http": {"response": {"status": 500 if status == 500 else 200}},
                "fault": status == 500,
            }
        ],
    )
    back = segment(trace_id, name="back", parent_id=call_id, duration=0.02, fault=status == 500)
    return [front, back]


def _start_helper(collector: Collector, client: Any, window: int) -> None:
    """Put flushes of 100 one-segment traces, early in ``window``, until the collector shares
    one with its helper (the first flushes are summarised in the collector while the helper
    starts)."""
    for attempt in range(WARM_UP_ATTEMPTS):
        _put(client, [segment(new_trace_id(window + attempt)) for _ in range(PUT_BATCH // 2)])
        if collector.metrics().value(SHARED) > 0:
            return
        time.sleep(0.25)
    raise AssertionError("the summary process never took a share")


def _put(client: Any, documents: list[dict[str, Any]]) -> None:
    for i in range(0, len(documents), PUT_BATCH):
        chunk = [dumps(document) for document in documents[i : i + PUT_BATCH]]
        assert (
            client.put_trace_segments(TraceSegmentDocuments=chunk)["UnprocessedTraceSegments"] == []
        )


@pytest.fixture(scope="module")
def pair(
    make_module_collector: Callable[..., Collector],
) -> tuple[list[tuple[Collector, Any]], int]:
    """(collector with one summary process, collector without) with the same traces."""
    warm_up = new_window()  # an hour before the one compared
    window = new_window()
    documents = [d for number in range(TRACES) for d in _trace(window, number)]
    out = []
    for processes in ("1", "0"):
        collector = make_module_collector(FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES=processes)
        client = xray_client(collector.endpoint_url)
        client.create_group(GroupName="faults", FilterExpression="fault")
        if processes == "1":
            _start_helper(collector, client, warm_up)
        _put(client, documents)
        eventually(
            lambda client=client: (
                len(summaries(client, StartTime=window, EndTime=window + 3_600)) == TRACES or None
            ),
            f"{TRACES} traces",
        )
        out.append((collector, client))
    return out, window


def test_the_helper_took_shares(pair: Any) -> None:
    """The first collector summarised traces on its helper; the second never did."""
    (helped, _), (alone, _) = pair[0]

    assert helped.metrics().value(SHARED) > 0
    assert alone.metrics().value(SHARED) == 0
    assert helped.metrics().value("fluoroscope_summary_helper_failures_total") == 0


def test_summaries_are_the_same(pair: Any) -> None:
    """Every field of every trace summary, annotations and root causes included."""
    collectors, window = pair
    found = [
        sorted(
            summaries(client, StartTime=window, EndTime=window + 3_600),
            key=lambda summary: str(summary["Id"]),
        )
        for _, client in collectors
    ]

    assert len(found[0]) == TRACES
    assert found[0] == found[1]
    assert {s["HasFault"] for s in found[0]} == {True, False}
    assert all(s["Annotations"]["tenant"] for s in found[0])


@pytest.mark.parametrize("group", [None, "faults"])
def test_service_graphs_are_the_same(pair: Any, group: str | None) -> None:
    """The graph's nodes, edges and their statistics, for every trace and for a group."""
    collectors, window = pair
    request: dict[str, Any] = {"StartTime": window, "EndTime": window + 3_600}
    if group is not None:
        request["GroupName"] = group
    graphs = [
        sorted(client.get_service_graph(**request)["Services"], key=lambda s: s["ReferenceId"])
        for _, client in collectors
    ]

    names = {service["Name"] for service in graphs[0]}
    assert {"front", "back"} <= names
    assert graphs[0] == graphs[1]


def test_the_console_scripts_helpers_do_not_load_the_command_line(
    make_collector: Callable[..., Collector],
) -> None:
    """Started as ``fluoroscope serve``, a helper imports what it uses, not every subcommand
    with aiohttp and grpc (about 45 MiB more per helper)."""
    collector = make_collector(console_script=True, FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES="1")
    client = xray_client(collector.endpoint_url)
    _start_helper(collector, client, new_window())

    helpers = [
        child
        for child in psutil.Process(collector.process.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    ]

    assert helpers
    for helper in helpers:
        loaded = [region.path for region in helper.memory_maps()]
        assert not [path for path in loaded if "aiohttp" in path or "grpc" in path]
