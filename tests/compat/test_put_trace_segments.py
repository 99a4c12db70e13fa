"""PutTraceSegments through boto3: stored when acknowledged, bad documents reported one by one."""

import json
import urllib.error
import urllib.request

import pytest

from tests.compat.documents import dumps, folded, new_id, new_trace_id, segment, subsegment
from tests.compat.queries import documents, get_traces, the_document


def test_acknowledged_documents_are_already_queryable(xray):
    """Once PutTraceSegments returns, BatchGetTraces finds what it accepted, without waiting."""
    first, second = segment(), segment(name="billing")

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(first), dumps(second)])

    found = get_traces(xray, [first["trace_id"], second["trace_id"]])
    assert reply["UnprocessedTraceSegments"] == []
    assert [the_document(found[doc["trace_id"]]) for doc in (first, second)] == [first, second]


def test_an_independent_subsegment_is_folded_into_its_segment(xray):
    """A subsegment sent in its own document comes back inside its parent."""
    root = segment()
    child = subsegment(root, name="payments.example.com", namespace="remote")

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(child), dumps(root)])

    trace = get_traces(xray, [root["trace_id"]])[root["trace_id"]]
    assert reply["UnprocessedTraceSegments"] == []
    assert folded(the_document(trace)) == {root["id"]: None, child["id"]: root["id"]}


def test_an_array_of_subsegments_is_one_document(xray):
    """The model's array form: every subsegment in it is folded under its parent."""
    root = segment()
    step = subsegment(root, name="step")
    inner = subsegment(step, name="inner")

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(root), dumps([step, inner])])

    trace = get_traces(xray, [root["trace_id"]])[root["trace_id"]]
    assert reply["UnprocessedTraceSegments"] == []
    assert folded(the_document(trace)) == {
        root["id"]: None,
        step["id"]: root["id"],
        inner["id"]: step["id"],
    }


def _too_large(doc_id):
    document = segment(id=doc_id)
    document["metadata"] = {"default": {"blob": "x" * (64 * 1024)}}
    return dumps(document)


def _truncated(doc_id):
    return dumps(segment(id=doc_id))[:-20]


def _with(**fields):
    return lambda doc_id: dumps({**segment(id=doc_id), **fields})


def _array_holding_a_segment(doc_id):
    return dumps([segment(id=doc_id)])


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (_truncated, "JSONFormatError"),
        (_with(trace_id="1-xyz"), "InvalidTraceId"),
        (_with(trace_id="1-00000000-000000000000000000000000"), "InvalidTraceId"),
        (_with(name="check<out>"), "InvalidName"),
        (_with(name=""), "InvalidName"),
        (_with(end_time=1.0), "InvalidEndTime"),
        (_with(type="subsegment"), "MissingParentId"),
        (_too_large, "DocumentTooLarge"),
        (_array_holding_a_segment, "InvalidSegment"),
    ],
    ids=[
        "bad JSON",
        "bad trace id",
        "no-op trace id",
        "bad name",
        "empty name",
        "ends before it starts",
        "subsegment without parent",
        "over 64 KiB",
        "array holding a segment",
    ],
)
def test_a_bad_document_is_reported_with_its_id(xray, build, code):
    """Each refused document is listed in UnprocessedTraceSegments with its own id and code."""
    doc_id = new_id()

    reply = xray.put_trace_segments(TraceSegmentDocuments=[build(doc_id)])

    (unprocessed,) = reply["UnprocessedTraceSegments"]
    assert (unprocessed["Id"], unprocessed["ErrorCode"]) == (doc_id, code)
    assert unprocessed["Message"]


def test_a_document_without_an_id_is_reported_as_missing_id(xray):
    """A document with no id cannot be named, so its refusal carries no Id."""
    document = segment()
    del document["id"]

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(document)])

    (unprocessed,) = reply["UnprocessedTraceSegments"]
    assert unprocessed["ErrorCode"] == "MissingId"
    assert "Id" not in unprocessed


def test_a_bad_document_costs_no_other_document_of_the_call(xray):
    """Valid documents around a refused one are stored; only the refused one is reported."""
    before, after = segment(), segment()
    bad = segment(name="check<out>")

    reply = xray.put_trace_segments(
        TraceSegmentDocuments=[dumps(before), dumps(bad), "not json", dumps(after)]
    )

    found = get_traces(xray, [before["trace_id"], bad["trace_id"], after["trace_id"]])
    assert [entry["ErrorCode"] for entry in reply["UnprocessedTraceSegments"]] == [
        "InvalidName",
        "JSONFormatError",
    ]
    assert sorted(found) == sorted([before["trace_id"], after["trace_id"]])


def test_a_resent_document_replaces_the_stored_one(xray):
    """Sending a document again with the same id overwrites the earlier copy."""
    original = segment(annotations={"attempt": 1})
    resent = dict(original, annotations={"attempt": 2})

    xray.put_trace_segments(TraceSegmentDocuments=[dumps(original)])
    xray.put_trace_segments(TraceSegmentDocuments=[dumps(resent)])

    trace = get_traces(xray, [original["trace_id"]])[original["trace_id"]]
    assert documents(trace) == [resent]


def test_documents_beyond_a_traces_size_limit_are_refused(make_collector, make_client):
    """Past the per-trace limit, further documents are unprocessed and LimitExceeded is set."""
    target = make_collector(FLUOROSCOPE_ASSEMBLY_MAX_TRACE_BYTES="65536")
    client = make_client(target)
    trace_id = new_trace_id()
    padding = {"default": {"blob": "x" * 40_000}}
    first, second, third = (segment(trace_id, metadata=padding) for _ in range(3))

    client.put_trace_segments(TraceSegmentDocuments=[dumps(first), dumps(second)])
    reply = client.put_trace_segments(TraceSegmentDocuments=[dumps(third)])

    trace = get_traces(client, [trace_id])[trace_id]
    assert [entry["Id"] for entry in reply["UnprocessedTraceSegments"]] == [third["id"]]
    assert trace["LimitExceeded"] is True
    assert sorted(doc["id"] for doc in documents(trace)) == sorted([first["id"], second["id"]])


def test_a_batch_larger_than_the_pipeline_queue_is_stored_when_the_queue_is_empty(
    make_collector, make_client
):
    """Refusing it as throttled would make its sender resend it forever: the queue's limits
    bound what waits behind one batch, not the batch itself."""
    target = make_collector(FLUOROSCOPE_QUEUE_MAX_DOCUMENTS="100")
    client = make_client(target)
    batch = [segment() for _ in range(101)]

    reply = client.put_trace_segments(TraceSegmentDocuments=[dumps(doc) for doc in batch])

    assert reply["UnprocessedTraceSegments"] == []
    assert len(get_traces(client, [doc["trace_id"] for doc in batch[:5]])) == 5


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"TraceSegmentDocuments": "not a list"}',
        b'{"TraceSegmentDocuments": [1, 2]}',
        b"{}",
    ],
    ids=["not JSON", "not an object", "not a list", "not strings", "missing"],
)
def test_a_malformed_request_is_an_invalid_request(collector, body):
    """A request body botocore would never send is refused whole, in the X-Ray error shape."""
    status, headers, reply = _post(collector.endpoint_url + "/TraceSegments", body)

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert json.loads(reply)["__type"] == "InvalidRequestException"


def test_a_request_over_the_size_limit_is_refused_as_bad_input(xray):
    """An oversized request is a 4xx InvalidRequestException, which botocore does not retry."""
    padding = "x" * (1 << 20)

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.put_trace_segments(TraceSegmentDocuments=[padding] * 17)

    assert 400 <= raised.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500


def test_a_document_that_is_not_valid_unicode_is_refused_alone(xray):
    """A document string holding a lone surrogate is unprocessed; the rest of the call is not."""
    good = segment()

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(good), "\ud800"])

    assert len(reply["UnprocessedTraceSegments"]) == 1
    assert get_traces(xray, [good["trace_id"]])


def _post(url, body):
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def test_annotations_x_ray_cannot_index_are_kept_in_the_document_and_not_indexed(xray):
    """API Gateway's own segments carry ``aws:`` annotation keys, and other tracers dotted
    ones: X-Ray keeps such a segment and drops those annotations from its index. So does
    Fluoroscope: the document is stored as sent, its valid annotations are indexed."""
    gateway = segment(
        name="orders-api/prod",
        origin="AWS::ApiGateway::Stage",
        annotations={"aws:api_id": "a1b2c3", "grpc.status_code": 0, "tier": "gold"},
    )

    reply = xray.put_trace_segments(TraceSegmentDocuments=[dumps(gateway)])

    assert reply["UnprocessedTraceSegments"] == []
    trace_id = gateway["trace_id"]
    assert the_document(get_traces(xray, [trace_id])[trace_id]) == gateway
    epoch = int(trace_id[2:10], 16)
    (summary,) = [
        s
        for s in xray.get_trace_summaries(StartTime=epoch, EndTime=epoch + 1)["TraceSummaries"]
        if s["Id"] == trace_id
    ]
    assert set(summary["Annotations"]) == {"tier"}
