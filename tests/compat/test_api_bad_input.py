"""Hostile input to the X-Ray API: always a 400 InvalidRequestException, and nothing else hurt.

botocore resends 5xx answers, so a 500 for bad input is resent; and one bad request must never
disturb the collector for the requests that follow it.
"""

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.compat.documents import dumps, segment
from tests.compat.process import Collector
from tests.compat.queries import wait_for_traces

LONE = "\ud800"  # a lone surrogate: JSON's \u escapes can spell it, Unicode has no such text


def _invalid(client: Any, call: Any) -> str:
    with pytest.raises(client.exceptions.InvalidRequestException) as caught:
        call()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(caught.value.response["Error"]["Message"])


def test_text_that_is_not_unicode_is_refused_and_the_store_keeps_working(
    collector: Collector, xray: Any
) -> None:
    rule = {
        "RuleName": f"bad{LONE}", "Priority": 10, "FixedRate": 0.5, "ReservoirSize": 1,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
        "ResourceARN": "*", "Version": 1,
    }  # fmt: skip
    now = time.time()

    for call in (
        lambda: xray.create_sampling_rule(SamplingRule=rule),
        lambda: xray.batch_get_traces(TraceIds=[LONE]),
        lambda: xray.get_trace_summaries(
            StartTime=now - 60, EndTime=now, FilterExpression=f'annotation.a = "{LONE}"'
        ),
        lambda: xray.create_group(GroupName="g", FilterExpression=f'user = "{LONE}"'),
        lambda: xray.put_telemetry_records(
            TelemetryRecords=[{"Timestamp": now, "SegmentsReceivedCount": 1}], Hostname=LONE
        ),
    ):
        assert "not valid Unicode" in _invalid(xray, call)

    # Nothing was left half done: sampling rules are served, /metrics renders, traces are stored.
    assert all(LONE not in r["SamplingRule"]["RuleName"]
               for r in xray.get_sampling_rules()["SamplingRuleRecords"])  # fmt: skip
    assert collector.get("/metrics")[0] == 200
    document = segment(name="after-the-bad-requests")
    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(document)])
    assert reply["UnprocessedTraceSegments"] == []
    wait_for_traces(xray, [document["trace_id"]])


def _post(collector: Collector, path: str, body: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        collector.endpoint_url + path,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


HUGE = "1" + "0" * 400  # a JSON number no double holds


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/TraceSummaries", f'{{"StartTime": 1, "EndTime": {HUGE}}}'),
        ("/ServiceGraph", f'{{"StartTime": 1, "EndTime": {HUGE}}}'),
        ("/ServiceGraph", '{"StartTime": 0, "EndTime": 1e300}'),
        ("/TimeSeriesServiceStatistics", f'{{"StartTime": 1, "EndTime": 5, "Period": {HUGE}}}'),
        ("/TelemetryRecords",
         f'{{"TelemetryRecords": [{{"Timestamp": 1, "SegmentsSentCount": {HUGE}}}]}}'),
        ("/TraceSummaries", '{"StartTime": 1, "EndTime": 5, "Sampling": true, '
         f'"SamplingStrategy": {{"Name": "FixedRate", "Value": {HUGE}}}}}'),
    ],
)  # fmt: skip
def test_numbers_out_of_any_range_are_invalid_requests(
    collector: Collector, path: str, body: str
) -> None:
    status, reply = _post(collector, path, body)

    assert status == 400
    assert reply["__type"] == "InvalidRequestException"


def _token(position: dict[str, Any], query: str) -> str:
    payload = json.dumps({"v": 1, "q": query, "p": position}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def test_a_next_token_edited_by_hand_is_invalid(xray: Any) -> None:
    """Tokens are opaque but not signed: what one holds is checked like any other input."""
    for call in (
        lambda: xray.get_groups(NextToken=_token({"after": "abc"}, "groups")),
        lambda: xray.get_groups(NextToken=_token({"after": -3}, "groups")),
        lambda: xray.get_sampling_statistic_summaries(
            NextToken=_token({"after": [1]}, "statistics")
        ),
    ):
        assert "NextToken" in _invalid(xray, call)


def test_a_body_nested_past_any_parser_is_an_invalid_request(collector: Collector) -> None:
    """Deep enough for orjson to refuse it and the fallback parser to run out of stack."""
    body = '{"SamplingStatisticsDocuments": ' + "[" * 5000 + "]" * 5000 + "}"

    status, reply = _post(collector, "/SamplingTargets", body)

    assert status == 400
    assert reply["__type"] == "InvalidRequestException"


def test_a_trace_id_longer_than_the_model_allows_is_an_invalid_request(xray: Any) -> None:
    """botocore's TraceId is at most 35 characters; botocore does not check maximums."""
    too_long = "1-5f84c7a0-" + "a" * 25

    for call in (
        lambda: xray.batch_get_traces(TraceIds=[too_long]),
        lambda: xray.get_trace_graph(TraceIds=[too_long]),
    ):
        assert "at most 35 characters" in _invalid(xray, call)


def test_a_group_call_naming_two_groups_is_refused_and_changes_neither(xray: Any) -> None:
    """GroupName of one group with GroupARN of another is a 400, never the ARN's group acted on."""
    kept = xray.create_group(GroupName="kept-group", FilterExpression="fault")["Group"]
    other = xray.create_group(GroupName="other-group", FilterExpression="error")["Group"]

    for call in (
        lambda: xray.delete_group(GroupName="kept-group", GroupARN=other["GroupARN"]),
        lambda: xray.update_group(GroupName="other-group", GroupARN=kept["GroupARN"]),
        lambda: xray.get_group(GroupName="kept-group", GroupARN=other["GroupARN"]),
    ):
        assert "different groups" in _invalid(xray, call)

    names = {g["GroupName"] for g in xray.get_groups()["Groups"]}
    assert {"kept-group", "other-group"} <= names
    same = xray.get_group(GroupName="kept-group", GroupARN=kept["GroupARN"])["Group"]
    assert same == kept


def test_notifications_without_insights_are_refused(xray: Any) -> None:
    """botocore's model: NotificationsEnabled can only be true when InsightsEnabled is true."""
    off_on = {"InsightsEnabled": False, "NotificationsEnabled": True}
    message = _invalid(
        xray, lambda: xray.create_group(GroupName="noisy", InsightsConfiguration=off_on)
    )
    assert "InsightsEnabled" in message
    xray.create_group(
        GroupName="quiet",
        InsightsConfiguration={"InsightsEnabled": True, "NotificationsEnabled": True},
    )

    insights_off = {"InsightsEnabled": False}
    _invalid(xray, lambda: xray.update_group(GroupName="quiet", InsightsConfiguration=insights_off))

    both_off = {"InsightsEnabled": False, "NotificationsEnabled": False}
    group = xray.update_group(GroupName="quiet", InsightsConfiguration=both_off)["Group"]
    assert group["InsightsConfiguration"] == both_off
