"""The service graph, trace graphs, time series and groups, built from real SDK traffic.

Two services instrumented with the real aws-xray-sdk: ``api`` (an EC2 instance) takes requests,
reads a DynamoDB table and calls ``orders`` over HTTP, which sends its own segment with the
trace header it was given. Some requests fault, some are throttled downstream.
"""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_xray_sdk.core import AWSXRayRecorder

from tests.compat.process import Collector
from tests.compat.queries import documents, eventually, inferred, wait_for_traces

REQUESTS = 12
EC2 = "AWS::EC2::Instance"


def _request(api: AWSXRayRecorder, orders: AWSXRayRecorder, number: int) -> str:
    """One request through both services; returns its trace id."""
    segment = api.begin_segment("api")
    segment.origin = EC2
    segment.put_annotation("customer", "acme" if number % 2 == 0 else "globex")
    table = api.begin_subsegment("DynamoDB", "aws")
    table.set_aws({"operation": "GetItem", "table_name": "orders-table"})
    api.end_subsegment()
    call = api.begin_subsegment("orders", "remote")
    downstream = orders.begin_segment("orders", traceid=segment.trace_id, parent_id=call.id)
    throttled = number % 4 == 1
    downstream.put_http_meta("status", 429 if throttled else 200)
    orders.end_segment()
    call.put_http_meta("status", 429 if throttled else 200)
    api.end_subsegment()
    segment.put_http_meta("status", 500 if number % 3 == 0 else 200)
    api.end_segment()
    return str(segment.trace_id)


@pytest.fixture(scope="module")
def traffic(
    make_module_collector: Callable[..., Collector],
) -> tuple[Collector, Any, list[str], float, float]:
    """A collector that has seen REQUESTS requests through api and orders."""
    from tests.compat.queries import xray_client

    collector = make_module_collector()
    client = xray_client(collector.endpoint_url)
    recorders = []
    for _ in range(2):
        recorder = AWSXRayRecorder()
        recorder.configure(
            daemon_address=collector.daemon_address,
            sampling=False,
            context_missing="LOG_ERROR",
            plugins=(),
        )
        recorders.append(recorder)
    started = time.time()
    trace_ids = [_request(recorders[0], recorders[1], n) for n in range(REQUESTS)]
    wait_for_traces(client, trace_ids, lambda trace: len(documents(trace)) == 2)
    for recorder in recorders:
        recorder.emitter._socket.close()
    return collector, client, trace_ids, started - 60, time.time() + 60


def _by_name(services: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(s["Name"], s.get("Type")): s for s in services}


def _edge(services: list[dict[str, Any]], source: dict[str, Any], target: dict[str, Any]) -> Any:
    (edge,) = [e for e in source["Edges"] if e["ReferenceId"] == target["ReferenceId"]]
    return edge


def test_the_service_graph_has_exactly_the_expected_nodes(traffic: Any) -> None:
    """Client, api (EC2), orders, and the DynamoDB table as an inferred node."""
    _, client, _, start, end = traffic

    services = client.get_service_graph(StartTime=start, EndTime=end)["Services"]

    assert set(_by_name(services)) == {
        ("api", "client"),
        ("api", EC2),
        ("orders", None),
        ("orders-table", "AWS::DynamoDB::Table"),
    }


def test_edges_carry_every_call_once_with_its_status(traffic: Any) -> None:
    """Client->api counts the faults, api->orders the throttles, api->table every read."""
    _, client, _, start, end = traffic
    nodes = _by_name(client.get_service_graph(StartTime=start, EndTime=end)["Services"])
    faults = sum(1 for n in range(REQUESTS) if n % 3 == 0)
    throttles = sum(1 for n in range(REQUESTS) if n % 4 == 1)

    entry = _edge(list(nodes.values()), nodes["api", "client"], nodes["api", EC2])
    downstream = _edge(list(nodes.values()), nodes["api", EC2], nodes["orders", None])
    table = _edge(
        list(nodes.values()), nodes["api", EC2], nodes["orders-table", "AWS::DynamoDB::Table"]
    )

    assert entry["SummaryStatistics"]["TotalCount"] == REQUESTS
    assert entry["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == faults
    assert downstream["SummaryStatistics"]["TotalCount"] == REQUESTS
    assert downstream["SummaryStatistics"]["ErrorStatistics"]["ThrottleCount"] == throttles
    assert table["SummaryStatistics"]["OkCount"] == REQUESTS


def test_nodes_carry_their_own_statistics(traffic: Any) -> None:
    """api's node counts its visits; the inferred table equals the edge into it; api is root."""
    _, client, _, start, end = traffic

    nodes = _by_name(client.get_service_graph(StartTime=start, EndTime=end)["Services"])

    api = nodes["api", EC2]
    assert api["Root"] is True
    assert api["State"] == "active"
    assert api["SummaryStatistics"]["TotalCount"] == REQUESTS
    assert nodes["orders-table", "AWS::DynamoDB::Table"]["State"] == "unknown"
    assert nodes["orders-table", "AWS::DynamoDB::Table"]["SummaryStatistics"]["OkCount"] == REQUESTS
    assert "SummaryStatistics" not in nodes["api", "client"]
    histogram = api["ResponseTimeHistogram"]
    assert sum(entry["Count"] for entry in histogram) == REQUESTS


def test_batch_get_traces_adds_the_inferred_table_segment(traffic: Any) -> None:
    """The DynamoDB call nobody answered comes back as the table's inferred segment, named and
    typed as its graph node; the call orders answered gets none."""
    _collector, client, trace_ids, _, _ = traffic
    trace = client.batch_get_traces(TraceIds=[trace_ids[0]])["Traces"][0]
    api = next(d for d in documents(trace) if d["name"] == "api")
    table_call = next(s for s in api["subsegments"] if s["name"] == "DynamoDB")

    (table,) = inferred(trace)

    assert table["name"] == "orders-table"
    assert table["origin"] == "AWS::DynamoDB::Table"
    assert table["parent_id"] == table_call["id"]
    assert table["aws"] == {"operation": "GetItem", "table_name": "orders-table"}
    assert (table["start_time"], table["end_time"]) == (
        table_call["start_time"],
        table_call["end_time"],
    )
    assert table["id"] in {segment["Id"] for segment in trace["Segments"]}


def test_resending_a_trace_as_batch_get_traces_returned_it_changes_nothing(traffic: Any) -> None:
    """A trace copied back through PutTraceSegments, its inferred segments included, leaves
    the statistics and the trace as they were: resent documents do not count twice, and an
    inferred segment is made again by its call rather than stored as a segment."""
    _collector, client, trace_ids, start, end = traffic
    before = client.get_service_graph(StartTime=start, EndTime=end)["Services"]
    trace = client.batch_get_traces(TraceIds=[trace_ids[0]])["Traces"][0]
    returned = [segment["Document"] for segment in trace["Segments"]]
    assert inferred(trace)

    reply = client.put_trace_segments(TraceSegmentDocuments=returned)
    after = client.get_service_graph(StartTime=start, EndTime=end)["Services"]

    assert reply["UnprocessedTraceSegments"] == []
    assert after == before
    again = client.batch_get_traces(TraceIds=[trace_ids[0]])["Traces"][0]
    assert sorted(s["Document"] for s in again["Segments"]) == sorted(returned)


def test_a_trace_graph_covers_only_its_traces(traffic: Any) -> None:
    """GetTraceGraph of two traces counts those two requests."""
    _, client, trace_ids, _, _ = traffic

    services = client.get_trace_graph(TraceIds=trace_ids[:2])["Services"]

    nodes = _by_name(services)
    assert nodes["api", EC2]["SummaryStatistics"]["TotalCount"] == 2
    assert set(nodes) == {
        ("api", "client"),
        ("api", EC2),
        ("orders", None),
        ("orders-table", "AWS::DynamoDB::Table"),
    }


def test_a_trace_graph_gives_each_node_and_edge_its_own_times(traffic: Any) -> None:
    """From its segments and calls, exactly: a 60 ms callee inside a one-second request is
    not reported as running for the whole request."""
    _, client, _, _, _ = traffic
    t0 = float(int(time.time()) - 300)
    trace_id = f"1-{int(t0):08x}-{'a' * 23}1"
    front = {
        "trace_id": trace_id,
        "id": "00000000000000f1",
        "name": "front",
        "start_time": t0,
        "end_time": t0 + 1.0,
        "subsegments": [
            {
                "id": "00000000000000f2",
                "name": "back",
                "namespace": "remote",
                "start_time": t0 + 0.1,
                "end_time": t0 + 0.2,
            }
        ],
    }
    back = {"trace_id": trace_id, "id": "00000000000000f3", "parent_id": "00000000000000f2",
            "name": "back", "start_time": t0 + 0.12, "end_time": t0 + 0.18}  # fmt: skip
    reply = client.put_trace_segments(TraceSegmentDocuments=[json.dumps(front), json.dumps(back)])
    assert reply["UnprocessedTraceSegments"] == []
    wait_for_traces(client, [trace_id])

    services = _by_name(client.get_trace_graph(TraceIds=[trace_id])["Services"])

    def times(item: dict[str, Any]) -> tuple[float, float]:
        return (round(item["StartTime"].timestamp() - t0, 3),
                round(item["EndTime"].timestamp() - t0, 3))  # fmt: skip

    assert times(services["back", None]) == (0.12, 0.18)
    assert times(services["front", None]) == (0.0, 1.0)
    (call,) = services["front", None]["Edges"]
    assert times(call) == (0.1, 0.2)


def test_time_series_for_a_service_sums_to_its_visits(traffic: Any) -> None:
    """Per-minute service statistics for api add up to every request."""
    _, client, _, start, end = traffic

    series = client.get_time_series_service_statistics(
        StartTime=start, EndTime=end, EntitySelectorExpression='service("api")', Period=60
    )["TimeSeriesServiceStatistics"]

    assert series
    assert sum(p["ServiceSummaryStatistics"]["TotalCount"] for p in series) == REQUESTS
    assert all(p["Timestamp"].timestamp() % 60 == 0 for p in series)


def test_time_series_for_an_edge_reports_edge_statistics(traffic: Any) -> None:
    """An edge selector gives EdgeSummaryStatistics."""
    _, client, _, start, end = traffic

    series = client.get_time_series_service_statistics(
        StartTime=start, EndTime=end, EntitySelectorExpression='edge("api", "orders")', Period=300
    )["TimeSeriesServiceStatistics"]

    assert sum(p["EdgeSummaryStatistics"]["TotalCount"] for p in series) == REQUESTS


def test_filter_expressions_find_traces_by_service_status_and_annotation(traffic: Any) -> None:
    """service("api") { fault } AND annotation.customer = "acme" finds exactly those traces."""
    _, client, trace_ids, start, end = traffic
    expected = {trace_ids[n] for n in range(REQUESTS) if n % 3 == 0 and n % 2 == 0}

    pages = client.get_paginator("get_trace_summaries").paginate(
        StartTime=start,
        EndTime=end,
        FilterExpression='service("api") { fault } AND annotation.customer = "acme"',
    )

    found = {s["Id"] for page in pages for s in page["TraceSummaries"]}
    assert found == expected


def test_a_group_filters_summaries_and_the_graph(traffic: Any) -> None:
    """A group created before traffic classifies it; group.name finds its traces."""
    collector, client, _trace_ids, start, end = traffic
    client.create_group(GroupName="throttled", FilterExpression="service() { throttle }")
    recorders = []
    for _ in range(2):
        recorder = AWSXRayRecorder()
        recorder.configure(
            daemon_address=collector.daemon_address, sampling=False, plugins=(),
            context_missing="LOG_ERROR",
        )  # fmt: skip
        recorders.append(recorder)
    new_ids = [_request(recorders[0], recorders[1], n) for n in range(4)]
    wait_for_traces(client, new_ids, lambda trace: len(documents(trace)) == 2)
    for recorder in recorders:
        recorder.emitter._socket.close()

    found = {
        s["Id"]
        for s in client.get_trace_summaries(
            StartTime=start, EndTime=end + 60, FilterExpression='group.name = "throttled"'
        )["TraceSummaries"]
    }
    graph = eventually(
        lambda: (
            client.get_service_graph(StartTime=start, EndTime=end + 60, GroupName="throttled")[
                "Services"
            ]
            or None
        ),
        "the group's graph",
    )

    assert new_ids[1] in found
    assert new_ids[0] not in found
    assert _by_name(graph)["api", EC2]["SummaryStatistics"]["TotalCount"] == 1
    assert client.get_group(GroupName="throttled")["Group"]["FilterExpression"] == (
        "service() { throttle }"
    )
    assert [g["GroupName"] for g in client.get_groups()["Groups"]] == ["throttled"]


def test_group_errors_are_invalid_requests(traffic: Any) -> None:
    """Duplicate names, unknown groups and malformed filters are refused as client errors."""
    _, client, _, _, _ = traffic
    client.create_group(GroupName="dup", FilterExpression="fault")

    with pytest.raises(client.exceptions.InvalidRequestException):
        client.create_group(GroupName="dup")
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.get_group(GroupName="missing")
    with pytest.raises(client.exceptions.InvalidRequestException, match="position"):
        client.create_group(GroupName="bad", FilterExpression="service(")
    with pytest.raises(client.exceptions.InvalidRequestException, match="reserved"):
        client.create_group(GroupName="Default", FilterExpression="fault")

    client.delete_group(GroupName="dup")
    with pytest.raises(client.exceptions.InvalidRequestException):
        client.get_group(GroupName="dup")


def test_a_group_filter_that_leads_back_to_its_own_group_is_refused(traffic: Any) -> None:
    """Each group.name reference is evaluated in full for every trace written; a cycle would
    grow that without bound."""
    _, client, _, _, _ = traffic
    with pytest.raises(client.exceptions.InvalidRequestException, match="leads back"):
        client.create_group(GroupName="selfish", FilterExpression='group.name = "selfish"')
    first = client.create_group(GroupName="first", FilterExpression="fault")["Group"]
    client.create_group(GroupName="second", FilterExpression='group.name = "first" OR error')

    with pytest.raises(client.exceptions.InvalidRequestException, match="leads back"):
        client.update_group(GroupName="first", FilterExpression='group.name = "second"')
    with pytest.raises(client.exceptions.InvalidRequestException, match="leads back"):
        client.update_group(
            GroupName="first", FilterExpression=f'throttle OR group.arn = "{first["GroupARN"]}"'
        )

    assert client.get_group(GroupName="first")["Group"]["FilterExpression"] == "fault"
    client.delete_group(GroupName="second")
    client.delete_group(GroupName="first")
    assert "selfish" not in [g["GroupName"] for g in client.get_groups()["Groups"]]


def test_group_references_that_multiply_through_other_groups_are_refused(traffic: Any) -> None:
    """No cycle, but ten mentions of a group of eleven mentions is 121 filters per trace."""
    _, client, _, _, _ = traffic
    invalid = client.exceptions.InvalidRequestException
    client.create_group(GroupName="base", FilterExpression="fault")
    client.create_group(
        GroupName="wide", FilterExpression=" OR ".join(['group.name = "base"'] * 11)
    )
    client.create_group(GroupName="leaf", FilterExpression="error")

    with pytest.raises(invalid, match="the group wider would expand into 121 group filters"):
        client.create_group(
            GroupName="wider", FilterExpression=" OR ".join(['group.name = "wide"'] * 10)
        )
    # A change to a group others refer to is checked for them: wide would be 1 + 11 * 11.
    with pytest.raises(invalid, match="the group wide would expand into 122 group filters"):
        client.update_group(
            GroupName="base", FilterExpression=" OR ".join(['group.name = "leaf"'] * 10)
        )

    assert client.get_group(GroupName="base")["Group"]["FilterExpression"] == "fault"
    for name in ("wide", "base", "leaf"):
        client.delete_group(GroupName=name)


def test_a_syntax_error_names_the_position_and_what_was_expected(traffic: Any) -> None:
    """GetTraceSummaries with a malformed expression is an InvalidRequestException."""
    _, client, _, start, end = traffic

    with pytest.raises(client.exceptions.InvalidRequestException) as caught:
        client.get_trace_summaries(StartTime=start, EndTime=end, FilterExpression="duration >")

    assert "position" in caught.value.response["Error"]["Message"]
    assert "expected" in caught.value.response["Error"]["Message"]
