"""BatchGetTraces through boto3."""

import pytest

from tests.compat.documents import dumps, new_trace_id, segment, subsegment
from tests.compat.queries import summary_of


def _put(client, *docs):
    reply = client.put_trace_segments(TraceSegmentDocuments=[dumps(doc) for doc in docs])
    assert reply["UnprocessedTraceSegments"] == []


def test_more_than_five_ids_are_refused(xray):
    """Six ids are an InvalidRequestException (400): the API takes one to five."""
    trace_ids = [new_trace_id() for _ in range(6)]

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.batch_get_traces(TraceIds=trace_ids)

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"


def test_unknown_ids_are_listed_as_unprocessed(xray):
    """Ids with no trace, well-formed or not, come back in UnprocessedTraceIds."""
    known = segment()
    unknown, malformed = new_trace_id(), "not-a-trace-id"
    _put(xray, known)

    reply = xray.batch_get_traces(TraceIds=[unknown, known["trace_id"], malformed])

    assert [trace["Id"] for trace in reply["Traces"]] == [known["trace_id"]]
    assert sorted(reply["UnprocessedTraceIds"]) == sorted([unknown, malformed])


def test_a_w3c_trace_id_finds_the_trace(xray):
    """The 32-hex-digit W3C form of an id finds the trace, returned under its X-Ray id."""
    document = segment()
    trace_id = document["trace_id"]
    _put(xray, document)

    reply = xray.batch_get_traces(TraceIds=[trace_id[2:].replace("-", "")])

    assert [trace["Id"] for trace in reply["Traces"]] == [trace_id]
    assert reply["UnprocessedTraceIds"] == []


def test_duration_and_limit_exceeded_are_present(xray):
    """Each trace carries its Duration and whether it hit the size limit."""
    document = segment(duration=0.5)
    _put(xray, document)

    (trace,) = xray.batch_get_traces(TraceIds=[document["trace_id"]])["Traces"]

    assert trace["Duration"] == pytest.approx(0.5)
    assert trace["LimitExceeded"] is False


def test_duration_counts_work_that_outlives_the_root_segment(xray):
    """Duration runs to the last traced activity, as in GetTraceSummaries for the same trace."""
    root = segment(duration=0.5)
    late = subsegment(root, name="async-flush", offset=0.25, duration=1.0)
    _put(xray, root, late)

    (trace,) = xray.batch_get_traces(TraceIds=[root["trace_id"]])["Traces"]

    assert trace["Duration"] == pytest.approx(summary_of(xray, root["trace_id"])["Duration"])
    assert trace["Duration"] == pytest.approx(1.25)


def test_every_segment_of_a_trace_is_returned_once(xray):
    """A trace through two services returns one document per segment, oldest first."""
    front = segment(name="frontend", duration=1.0)
    call = subsegment(front, name="backend", namespace="remote")
    back = segment(front["trace_id"], name="backend", start=call["start_time"] + 0.001)
    back["parent_id"] = call["id"]
    _put(xray, back, call, front)

    (trace,) = xray.batch_get_traces(TraceIds=[front["trace_id"]])["Traces"]

    assert [item["Id"] for item in trace["Segments"]] == [front["id"], back["id"]]
