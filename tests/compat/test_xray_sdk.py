"""The aws-xray-sdk, unmodified, sending to a collector over UDP as it would to the daemon."""

import traceback

import pytest

from tests.compat.documents import folded
from tests.compat.queries import the_document, wait_for_summary, wait_for_trace

CHECKOUT = {"Name": "checkout", "Names": ["checkout"]}


def test_a_plain_segment_comes_back_byte_for_byte(collector, xray, make_recorder):
    """A segment with nothing to fold is returned exactly as the SDK serialised it."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    recorder.end_segment()

    trace = wait_for_trace(xray, segment.trace_id)
    assert [item["Id"] for item in trace["Segments"]] == [segment.id]
    assert trace["Segments"][0]["Document"] == segment.serialize()


def test_annotations_of_every_type_keep_their_kind_in_summaries(collector, xray, make_recorder):
    """String, int, float and bool annotations come back as String, Number and Boolean values."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    segment.put_annotation("customer", "acme")
    segment.put_annotation("count", 3)
    segment.put_annotation("ratio", 0.25)
    segment.put_annotation("vip", True)
    recorder.end_segment()

    summary = wait_for_summary(xray, segment.trace_id)
    assert summary["Annotations"] == {
        "customer": [{"AnnotationValue": {"StringValue": "acme"}, "ServiceIds": [CHECKOUT]}],
        "count": [{"AnnotationValue": {"NumberValue": 3.0}, "ServiceIds": [CHECKOUT]}],
        "ratio": [{"AnnotationValue": {"NumberValue": 0.25}, "ServiceIds": [CHECKOUT]}],
        "vip": [{"AnnotationValue": {"BooleanValue": True}, "ServiceIds": [CHECKOUT]}],
    }


def test_annotations_on_a_subsegment_name_the_segments_service(collector, xray, make_recorder):
    """An annotation set on a subsegment is attributed to the service of its segment."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    recorder.begin_subsegment("compute_total").put_annotation("basket", 7)
    recorder.end_subsegment()
    recorder.end_segment()

    summary = wait_for_summary(xray, segment.trace_id)
    assert summary["Annotations"] == {
        "basket": [{"AnnotationValue": {"NumberValue": 7.0}, "ServiceIds": [CHECKOUT]}]
    }


def test_metadata_and_user_are_kept(collector, xray, make_recorder):
    """Metadata comes back in the document; the user is listed in the summary."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    segment.put_metadata("cart", {"items": [1, 2, 3], "note": "gift"}, "debug")
    segment.set_user("alice")
    recorder.end_segment()

    document = the_document(wait_for_trace(xray, segment.trace_id))
    summary = wait_for_summary(xray, segment.trace_id)
    assert document["metadata"] == {"debug": {"cart": {"items": [1, 2, 3], "note": "gift"}}}
    assert document["user"] == "alice"
    assert summary["Users"] == [{"UserName": "alice", "ServiceIds": [CHECKOUT]}]


@pytest.mark.parametrize(
    ("status", "fault", "error", "throttle"),
    [
        (200, False, False, False),
        (404, False, True, False),
        (429, False, True, True),
        (500, True, False, False),
    ],
)
def test_the_response_status_sets_fault_error_and_throttle(
    collector, xray, make_recorder, status, fault, error, throttle
):
    """5xx is a fault, 4xx an error, and 429 an error that is also a throttle."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    segment.put_http_meta("status", status)
    recorder.end_segment()

    summary = wait_for_summary(xray, segment.trace_id)
    assert (summary["HasFault"], summary["HasError"], summary["HasThrottle"]) == (
        fault,
        error,
        throttle,
    )
    assert summary["Http"]["HttpStatus"] == status


def test_the_http_request_is_summarised(collector, xray, make_recorder):
    """The root segment's request and response make the summary's Http."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    segment.put_http_meta("url", "http://shop.example.com/checkout?cart=1")
    segment.put_http_meta("method", "POST")
    segment.put_http_meta("user_agent", "compat-test/1.0")
    segment.put_http_meta("client_ip", "10.1.2.3")
    segment.put_http_meta("status", 201)
    recorder.end_segment()

    summary = wait_for_summary(xray, segment.trace_id)
    assert summary["Http"] == {
        "HttpURL": "http://shop.example.com/checkout?cart=1",
        "HttpStatus": 201,
        "HttpMethod": "POST",
        "UserAgent": "compat-test/1.0",
        "ClientIp": "10.1.2.3",
    }


def test_an_exception_is_returned_as_the_cause(collector, xray, make_recorder):
    """``add_exception`` becomes the subsegment's cause, with its type, message and stack."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    subsegment = recorder.begin_subsegment("compute_total")
    try:
        raise ValueError("boom in compute_total")
    except ValueError as exc:
        subsegment.add_exception(exc, traceback.extract_stack())
    recorder.end_subsegment()
    recorder.end_segment()

    document = the_document(wait_for_trace(xray, segment.trace_id))
    (returned,) = document["subsegments"]
    (exception,) = returned["cause"]["exceptions"]
    assert returned["fault"] is True
    assert (exception["type"], exception["message"]) == ("ValueError", "boom in compute_total")
    assert exception["stack"]


def test_remote_aws_and_local_subsegments_are_embedded_in_their_segment(
    collector, xray, make_recorder
):
    """Each subsegment comes back once, inside the segment, with its namespace."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    recorder.begin_subsegment("payments.example.com", "remote")
    recorder.end_subsegment()
    recorder.begin_subsegment("DynamoDB", "aws")
    recorder.end_subsegment()
    recorder.begin_subsegment("compute_total")
    recorder.end_subsegment()
    recorder.end_segment()

    document = the_document(wait_for_trace(xray, segment.trace_id))
    assert [(s["name"], s["namespace"]) for s in document["subsegments"]] == [
        ("payments.example.com", "remote"),
        ("DynamoDB", "aws"),
        ("compute_total", "local"),
    ]


# The SDK's botocore patch names its subsegment after the endpoint prefix ("dynamodb"); its
# Node.js counterpart, and code that records calls by hand, write "DynamoDB".
@pytest.mark.parametrize("service", ["DynamoDB", "dynamodb"])
def test_downstream_calls_are_inferred_services(collector, xray, make_recorder, service):
    """A DynamoDB call names its table as an AWS::DynamoDB::Table; an HTTP call is remote."""
    recorder = make_recorder(collector)

    segment = recorder.begin_segment("checkout")
    dynamodb = recorder.begin_subsegment(service, "aws")
    dynamodb.set_aws({"operation": "PutItem", "table_name": "orders", "region": "us-east-1"})
    recorder.end_subsegment()
    recorder.begin_subsegment("payments.example.com", "remote")
    recorder.end_subsegment()
    recorder.begin_subsegment("compute_total")
    recorder.end_subsegment()
    recorder.end_segment()

    summary = wait_for_summary(xray, segment.trace_id)
    assert sorted(summary["ServiceIds"], key=lambda service: service["Name"]) == [
        CHECKOUT,
        {"Name": "orders", "Names": ["orders"], "Type": "AWS::DynamoDB::Table"},
        {"Name": "payments.example.com", "Names": ["payments.example.com"], "Type": "remote"},
    ]
    assert summary["EntryPoint"] == CHECKOUT


@pytest.mark.parametrize("threshold", [0, 1])
def test_streamed_subsegments_are_folded_under_their_parents_once(
    collector, xray, make_recorder, threshold
):
    """Subsegments the SDK streams on their own come back nested exactly where they belong."""
    recorder = make_recorder(collector, streaming_threshold=threshold)
    received = collector.metrics().value("fluoroscope_udp_datagrams_received_total")

    segment = recorder.begin_segment("streamer")
    expected = {segment.id: None}
    for i in range(4):
        step = recorder.begin_subsegment(f"step{i}")
        inner = recorder.begin_subsegment(f"inner{i}")
        recorder.end_subsegment()
        recorder.end_subsegment()
        expected[step.id] = segment.id
        expected[inner.id] = step.id
    recorder.end_segment()

    trace = wait_for_trace(
        xray,
        segment.trace_id,
        until=lambda trace: segment.id in {item["Id"] for item in trace["Segments"]},
    )
    assert [item["Id"] for item in trace["Segments"]] == [segment.id]
    assert folded(the_document(trace)) == expected
    assert collector.metrics().value("fluoroscope_udp_datagrams_received_total") > received + 1


@pytest.mark.parametrize("threshold", [0, 1])
def test_streamed_subsegments_count_in_the_summary(collector, xray, make_recorder, threshold):
    """Annotations and downstream calls of streamed subsegments belong to their segment."""
    recorder = make_recorder(collector, streaming_threshold=threshold)

    segment = recorder.begin_segment("streamer")
    for i in range(3):
        recorder.begin_subsegment(f"step{i}")
        call = recorder.begin_subsegment("DynamoDB", "aws")
        call.set_aws({"operation": "GetItem", "table_name": f"table{i}"})
        call.put_annotation(f"step{i}", i)
        recorder.end_subsegment()
        recorder.end_subsegment()
    recorder.end_segment()

    wait_for_trace(
        xray,
        segment.trace_id,
        until=lambda trace: segment.id in {item["Id"] for item in trace["Segments"]},
    )
    summary = wait_for_summary(xray, segment.trace_id)
    streamer = {"Name": "streamer", "Names": ["streamer"]}
    assert summary["Annotations"] == {
        f"step{i}": [{"AnnotationValue": {"NumberValue": float(i)}, "ServiceIds": [streamer]}]
        for i in range(3)
    }
    assert summary["ServiceIds"] == [streamer] + [
        {"Name": f"table{i}", "Names": [f"table{i}"], "Type": "AWS::DynamoDB::Table"}
        for i in range(3)
    ]
