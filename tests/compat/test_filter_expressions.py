"""Filter expressions through boto3: the trace-level keywords are about the trace's answer.

The developer guide: "Simple keywords and operators find issues only at the trace level. If an
error occurs downstream, but is handled by your application and not returned to the user, a
search for ``error`` will not find it"; ``ok`` is a 2XX response and ``throttle`` a 429 one; a
boolean annotation evaluates to its value.
"""

from typing import Any

import pytest

from tests.compat.documents import dumps, new_trace_id, new_window, segment
from tests.compat.queries import summaries


def _answering(window: int, status: int | None, **fields: Any) -> dict[str, Any]:
    http = {"response": {"status": status}} if status is not None else {}
    return segment(new_trace_id(window + 60), http=http, **fields)


@pytest.fixture(scope="module")
def traces(xray: Any) -> tuple[int, dict[str, str]]:
    """Traces that tell the keywords apart, by a name for each: (window, name -> trace id)."""
    window = new_window()
    handled = _answering(window, 200)
    handled["subsegments"] = [
        {"id": "a1b2c3d4e5f60718", "name": "DynamoDB", "namespace": "aws",
         "start_time": handled["start_time"] + 0.001, "end_time": handled["start_time"] + 0.002,
         "throttle": True, "error": True, "http": {"response": {"status": 429}}},
    ]  # fmt: skip
    documents = {
        "ok": _answering(window, 200, annotations={"vip": True}),
        "handled throttle": handled,
        "throttled": _answering(window, 429, throttle=True, error=True),
        "not modified": _answering(window, 304, annotations={"vip": False}),
        "no http": _answering(window, None),
        "in progress": _answering(window, None, in_progress=True),
    }
    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(d) for d in documents.values()])
    assert reply["UnprocessedTraceSegments"] == []
    return window, {name: d["trace_id"] for name, d in documents.items()}


def _matching(xray: Any, traces: tuple[int, dict[str, str]], expression: str) -> set[str]:
    window, ids = traces
    found = {
        s["Id"]
        for s in summaries(
            xray, StartTime=window, EndTime=window + 3600, FilterExpression=expression
        )
    }
    return {name for name, trace_id in ids.items() if trace_id in found}


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("throttle", {"throttled"}),
        ("!throttle", {"ok", "handled throttle", "not modified", "no http", "in progress"}),
        ("throttle = false", {"ok", "handled throttle", "not modified", "no http", "in progress"}),
        ("error", {"throttled"}),
        ("ok", {"ok", "handled throttle", "no http"}),
        ("!ok", {"throttled", "not modified", "in progress"}),
        ("ok = false", {"throttled", "not modified", "in progress"}),
        ("annotation.vip", {"ok"}),
        ("!annotation.vip", {"handled throttle", "throttled", "not modified", "no http",
                             "in progress"}),
        ("annotation.vip = false", {"not modified"}),
    ],
)  # fmt: skip
def test_trace_keywords_describe_the_answer_the_client_got(
    xray: Any, traces: tuple[int, dict[str, str]], expression: str, names: set[str]
) -> None:
    """A throttle the service handled is not the trace's; ok is a 2XX answer (or one with no
    HTTP status) once given; a false annotation is false."""
    assert _matching(xray, traces, expression) == names


def test_the_summary_still_says_a_segment_was_throttled(
    xray: Any, traces: tuple[int, dict[str, str]]
) -> None:
    """HasThrottle stays botocore's "one or more segments" flag."""
    window, ids = traces
    (summary,) = [
        s
        for s in summaries(xray, StartTime=window, EndTime=window + 3600)
        if s["Id"] == ids["handled throttle"]
    ]

    assert summary["HasThrottle"] is True


def test_a_blank_filter_is_no_filter_for_groups_as_for_summaries(
    xray: Any, traces: tuple[int, dict[str, str]]
) -> None:
    """GetTraceSummaries takes a blank FilterExpression as none; so do CreateGroup and
    UpdateGroup, rather than refusing it."""
    _, ids = traces
    assert _matching(xray, traces, "   ") == set(ids)

    group = xray.create_group(GroupName="blank-filter", FilterExpression="  ")["Group"]
    assert "FilterExpression" not in group
    xray.update_group(GroupName="blank-filter", FilterExpression="fault")
    cleared = xray.update_group(GroupName="blank-filter", FilterExpression=" \t")["Group"]
    assert "FilterExpression" not in cleared
