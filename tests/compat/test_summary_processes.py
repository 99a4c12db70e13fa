"""A collector that shares summaries with a helper process answers exactly as one that does not.

Two collectors take the same traces through boto3's PutTraceSegments, in batches large enough
for the first to hand shares to its helper: summaries, the service graph and a group's graph
read back through boto3 must be the same from both. So must the traces that tail sampling
keeps, which the helper decides for the traces it summarises.
"""

import json
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
DECIDED = "fluoroscope_sampling_traces_total"
TAIL_RULES = [
    {"name": "faults", "filter": "fault", "keep": 0.5},
    {"name": "throttled", "filter": "throttle"},
]
NO_RULE = "(no rule matched)"


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


def _start_helper(collector: Collector, client: Any, window: int) -> int:
    """Put flushes of 100 one-segment traces, early in ``window``, until the collector shares
    one with its helper (the first flushes are summarised in the collector while the helper
    starts); how many traces that took."""
    for attempt in range(WARM_UP_ATTEMPTS):
        _put(client, [segment(new_trace_id(window + attempt)) for _ in range(PUT_BATCH // 2)])
        if collector.metrics().value(SHARED) > 0:
            return (attempt + 1) * PUT_BATCH // 2
        time.sleep(0.25)
    raise AssertionError("the summary process never took a share")


def _tail_decisions(collector: Collector) -> dict[tuple[str, str], float]:
    metrics = collector.metrics()
    return {
        (rule, verdict): metrics.value(DECIDED, stage="tail", rule=rule, verdict=verdict)
        for rule in ("faults", "throttled", NO_RULE)
        for verdict in ("kept", "dropped")
    }


def _put(client: Any, documents: list[dict[str, Any]]) -> None:
    for i in range(0, len(documents), PUT_BATCH):
        chunk = [dumps(document) for document in documents[i : i + PUT_BATCH]]
        assert (
            client.put_trace_segments(TraceSegmentDocuments=chunk)["UnprocessedTraceSegments"] == []
        )


def _pair(
    make_module_collector: Callable[..., Collector], **settings: str
) -> tuple[list[tuple[Collector, Any]], int]:
    """(collector with one summary process, collector without) with the same traces."""
    warm_up = new_window()  # an hour before the one compared
    window = new_window()
    documents = [d for number in range(TRACES) for d in _trace(window, number)]
    out = []
    for processes in ("1", "0"):
        collector = make_module_collector(
            FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES=processes, **settings
        )
        client = xray_client(collector.endpoint_url)
        client.create_group(GroupName="faults", FilterExpression="fault")
        warm_ups = _start_helper(collector, client, warm_up) if processes == "1" else 0
        _put(client, documents)
        if "FLUOROSCOPE_SAMPLING_TAIL_RULES" in settings:
            eventually(
                lambda collector=collector, warm_ups=warm_ups: (
                    sum(_tail_decisions(collector).values()) == TRACES + warm_ups or None
                ),
                f"{TRACES} traces decided",
            )
        else:
            eventually(
                lambda client=client: (
                    len(summaries(client, StartTime=window, EndTime=window + 3_600)) == TRACES
                    or None
                ),
                f"{TRACES} traces",
            )
        out.append((collector, client))
    return out, window


@pytest.fixture(scope="module")
def pair(
    make_module_collector: Callable[..., Collector],
) -> tuple[list[tuple[Collector, Any]], int]:
    """(collector with one summary process, collector without) with the same traces."""
    return _pair(make_module_collector)


@pytest.fixture(scope="module")
def tail_pair(
    make_module_collector: Callable[..., Collector],
) -> tuple[list[tuple[Collector, Any]], int]:
    """The same, both with tail sampling that keeps half the faults and every throttle."""
    return _pair(make_module_collector, FLUOROSCOPE_SAMPLING_TAIL_RULES=json.dumps(TAIL_RULES))


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


def test_tail_sampling_keeps_the_same_traces(tail_pair: Any) -> None:
    """The helper decides the traces it summarises as the collector does: the same traces are
    kept, with the same summaries and graph, and the same verdicts are counted."""
    collectors, window = tail_pair
    helped = collectors[0][0]
    found = [
        sorted(
            summaries(client, StartTime=window, EndTime=window + 3_600),
            key=lambda summary: str(summary["Id"]),
        )
        for _, client in collectors
    ]
    request: dict[str, Any] = {"StartTime": window, "EndTime": window + 3_600}
    graphs = [
        sorted(client.get_service_graph(**request)["Services"], key=lambda s: s["ReferenceId"])
        for _, client in collectors
    ]
    decisions = [_tail_decisions(collector) for collector, _ in collectors]

    assert helped.metrics().value(SHARED) > 0
    assert helped.metrics().value("fluoroscope_summary_helper_failures_total") == 0
    throttled = TRACES // 4  # status 429
    assert decisions[0][("throttled", "kept")] == decisions[1][("throttled", "kept")] == throttled
    faults_kept = decisions[1][("faults", "kept")]
    assert 0 < faults_kept < TRACES // 4
    assert decisions[0][("faults", "kept")] == faults_kept
    assert decisions[0][("faults", "dropped")] == decisions[1][("faults", "dropped")]
    assert len(found[0]) == throttled + faults_kept
    assert found[0] == found[1]
    assert graphs[0] == graphs[1]
    assert {"front", "back"} <= {service["Name"] for service in graphs[0]}


def test_the_console_scripts_helpers_do_not_load_the_command_line(
    make_collector: Callable[..., Collector],
) -> None:
    """Started as ``fluoroscope serve``, a helper imports what it uses, not every subcommand
    with aiohttp and grpc (about 45 MiB more per helper), nor the store it does not write."""
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
        unneeded = ("aiohttp", "grpc", "_sqlite3")  # the HTTP server, gRPC, the store
        assert not [path for path in loaded if any(name in path for name in unneeded)]
