"""Trace summary semantics (xray-protocol.md 8.2)."""

import orjson
import pytest

from fluoroscope.model.services import ServiceId, canonical_aws_service
from fluoroscope.model.summary import (
    MAX_INDEXED_ANNOTATIONS,
    annotation_value,
    summarize,
    typed_value,
)
from fluoroscope.model.trace import Completeness, TraceTree, supersedes
from fluoroscope.translate.xray_json import parse_document

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
START = 1795579417.0
ROOT = "00000000000000a0"
CALL = "00000000000000d0"
DOWNSTREAM = "00000000000000e0"

CHECKOUT = {"Name": "checkout", "Names": ["checkout"]}


@pytest.fixture
def summary_of(parse):
    """Summarise a trace made of the given documents."""

    def build(*documents, trace_id=TRACE_ID, revision=1, limit_exceeded=False):
        tree = TraceTree([parse(document).view() for document in documents])
        return summarize(trace_id, tree, revision, limit_exceeded=limit_exceeded)

    return build


@pytest.fixture
def downstream(make_document):
    """A root segment calling a downstream service that sent its own segment."""

    def build(root_fields=None, callee_fields=None):
        call = make_document(id=CALL, name="payments", namespace="remote")
        root = make_document(id=ROOT, subsegments=[call], **(root_fields or {}))
        fields = {"start_time": START + 0.1, "end_time": START + 0.9, **(callee_fields or {})}
        callee = make_document(id=DOWNSTREAM, name="payments", parent_id=CALL, **fields)
        return root, callee

    return build


def test_golden_summaries_match_the_expected_ones(golden, summary_of):
    """All of a capture's documents at once summarise to what the capture expects."""
    documents = golden.documents()
    current = {}
    for document in documents:  # the version of each id that the assembler keeps
        old = current.get(document.id)
        if old is None or supersedes(old, document):
            current.pop(document.id, None)
            current[document.id] = document

    tree = TraceTree([document.view() for document in current.values()])
    summary = summarize(golden.expected["trace_id"], tree, 1)

    golden.assert_summary(summary.to_api(), revision=False)
    assert summary.completeness.name == golden.expected["completeness"]


# --- root-segment semantics ------------------------------------------------------------------


def test_a_fault_flag_on_the_root_makes_the_trace_faulty(make_document, summary_of):
    """HasFault describes the entry segment."""
    summary = summary_of(make_document(fault=True))

    assert summary.has_fault
    assert not summary.has_error


def test_a_5xx_status_on_the_root_makes_the_trace_faulty(make_document, summary_of):
    """The status alone is enough, without the SDK's flag."""
    root = make_document(http={"response": {"status": 503}})

    summary = summary_of(root)

    assert summary.has_fault


def test_a_4xx_status_on_the_root_makes_the_trace_erroneous(make_document, summary_of):
    """HasError is the entry segment's 4xx."""
    root = make_document(http={"response": {"status": 404}})

    summary = summary_of(root)

    assert summary.has_error
    assert not summary.has_fault
    assert not summary.has_throttle


def test_an_error_flag_on_the_root_makes_the_trace_erroneous(make_document, summary_of):
    """The SDK's ``error`` flag counts without a status."""
    summary = summary_of(make_document(error=True))

    assert summary.has_error


def test_a_429_on_the_root_is_both_an_error_and_a_throttle(make_document, summary_of):
    """429 is a 4xx and a throttle."""
    root = make_document(http={"response": {"status": 429}})

    summary = summary_of(root)

    assert summary.has_error
    assert summary.has_throttle
    assert not summary.has_fault


def test_a_downstream_fault_does_not_make_the_trace_faulty(downstream, summary_of):
    """Only the root's status counts for HasFault and HasError."""
    root, callee = downstream(callee_fields={"fault": True, "http": {"response": {"status": 500}}})

    summary = summary_of(root, callee)

    assert not summary.has_fault
    assert not summary.has_error


def test_a_downstream_segment_throttled_makes_the_trace_throttled(downstream, summary_of):
    """HasThrottle looks at every segment."""
    root, callee = downstream(callee_fields={"http": {"response": {"status": 429}}})

    summary = summary_of(root, callee)

    assert summary.has_throttle
    assert not summary.has_error


def test_a_downstream_throttle_flag_makes_the_trace_throttled(downstream, summary_of):
    """The ``throttle`` flag counts without a status."""
    root, callee = downstream(callee_fields={"throttle": True, "error": True})

    summary = summary_of(root, callee)

    assert summary.has_throttle


def test_http_comes_from_the_root_segment(downstream, summary_of):
    """Http is the entry segment's request and response."""
    request = {
        "method": "POST",
        "url": "http://shop.example.com/checkout",
        "user_agent": "curl/8.5",
        "client_ip": "203.0.113.9",
    }
    root, callee = downstream(
        root_fields={"http": {"request": request, "response": {"status": 201}}},
        callee_fields={"http": {"request": {"method": "GET"}, "response": {"status": 200}}},
    )

    http = summary_of(callee, root).to_api()["Http"]

    assert http == {
        "HttpURL": "http://shop.example.com/checkout",
        "HttpStatus": 201,
        "HttpMethod": "POST",
        "UserAgent": "curl/8.5",
        "ClientIp": "203.0.113.9",
    }


def test_response_time_is_the_root_segments_own_duration(downstream, summary_of):
    """ResponseTime is root end minus root start; Duration also counts later work."""
    root, callee = downstream(
        root_fields={"end_time": START + 1.5}, callee_fields={"end_time": START + 2.0}
    )

    summary = summary_of(root, callee)

    assert summary.response_time == pytest.approx(1.5)
    assert summary.duration == pytest.approx(2.0)


def test_response_time_is_absent_while_the_root_is_in_progress(make_document, summary_of):
    """An open root has no response yet."""
    summary = summary_of(make_document(in_progress=True))

    assert summary.response_time is None
    assert "ResponseTime" not in summary.to_api()


def test_start_time_is_the_earliest_segment_start(downstream, summary_of):
    """A downstream segment that started first (clock skew) moves StartTime."""
    root, callee = downstream(callee_fields={"start_time": START - 0.25})

    summary = summary_of(root, callee)

    assert summary.start_time == START - 0.25
    assert summary.duration == pytest.approx(1.25)


def test_duration_runs_to_the_latest_end_of_any_entity(make_document, summary_of):
    """A subsegment ending after its segment extends Duration, not ResponseTime."""
    late = make_document(type="subsegment", parent_id=ROOT, end_time=START + 3.0)

    summary = summary_of(make_document(id=ROOT), late)

    assert summary.duration == pytest.approx(3.0)
    assert summary.response_time == pytest.approx(1.0)
    assert summary.end_time == START + 3.0


# --- any-segment semantics -------------------------------------------------------------------


def test_is_partial_while_anything_is_in_progress(make_document, summary_of):
    """IsPartial: some document is still in progress."""
    sub = make_document(type="subsegment", parent_id=ROOT, in_progress=True)

    summary = summary_of(make_document(id=ROOT), sub)

    assert summary.is_partial
    assert summary.completeness is Completeness.IN_PROGRESS


def test_a_finished_trace_is_not_partial(make_document, summary_of):
    """Everything closed: IsPartial is false."""
    summary = summary_of(make_document())

    assert not summary.is_partial
    assert summary.completeness is Completeness.COMPLETE


def test_users_list_the_services_that_set_them(downstream, summary_of):
    """Users come from every segment, each with the services that named it."""
    root, callee = downstream(root_fields={"user": "alice"}, callee_fields={"user": "alice"})

    users = summary_of(root, callee).to_api()["Users"]

    assert users == [
        {"UserName": "alice", "ServiceIds": [CHECKOUT, {"Name": "payments", "Names": ["payments"]}]}
    ]


def test_annotations_hold_one_entry_per_distinct_value(downstream, summary_of):
    """Each value of a key is listed once, with the services that set it."""
    root, callee = downstream(
        root_fields={"annotations": {"tier": "gold"}},
        callee_fields={"annotations": {"tier": "silver"}},
    )

    annotations = summary_of(root, callee).to_api()["Annotations"]

    assert annotations == {
        "tier": [
            {"AnnotationValue": {"StringValue": "gold"}, "ServiceIds": [CHECKOUT]},
            {
                "AnnotationValue": {"StringValue": "silver"},
                "ServiceIds": [{"Name": "payments", "Names": ["payments"]}],
            },
        ]
    }


def test_an_annotation_on_a_subsegment_is_credited_to_its_segment(make_document, summary_of):
    """Subsegments report for the service whose segment holds them, even when streamed."""
    sub = make_document(type="subsegment", parent_id=ROOT, annotations={"order": 7})

    annotations = summary_of(sub, make_document(id=ROOT)).to_api()["Annotations"]

    assert annotations == {
        "order": [{"AnnotationValue": {"NumberValue": 7.0}, "ServiceIds": [CHECKOUT]}]
    }


def test_true_and_1_are_different_annotation_values(make_document, summary_of):
    """Booleans and numbers stay apart although Python finds them equal."""
    sub = make_document(type="subsegment", parent_id=ROOT, annotations={"flag": 1})
    root = make_document(id=ROOT, annotations={"flag": True})

    values = summary_of(root, sub).to_api()["Annotations"]["flag"]

    assert sorted(str(v["AnnotationValue"]) for v in values) == [
        "{'BooleanValue': True}",
        "{'NumberValue': 1.0}",
    ]


def test_1_and_1_point_0_are_the_same_annotation_value(make_document, summary_of):
    """Numbers are doubles, as X-Ray's NumberValue."""
    sub = make_document(type="subsegment", parent_id=ROOT, annotations={"n": 1.0})
    root = make_document(id=ROOT, annotations={"n": 1})

    values = summary_of(root, sub).to_api()["Annotations"]["n"]

    assert values == [{"AnnotationValue": {"NumberValue": 1.0}, "ServiceIds": [CHECKOUT]}]


def test_at_most_50_annotation_keys_are_indexed(make_document, summary_of):
    """Keys beyond X-Ray's 50 per trace are dropped and counted."""
    annotations = {f"k{i:02}": i for i in range(MAX_INDEXED_ANNOTATIONS + 2)}

    summary = summary_of(make_document(annotations=annotations))

    assert len(summary.annotations) == MAX_INDEXED_ANNOTATIONS
    assert summary.dropped_annotation_keys == 2


def test_a_known_key_is_indexed_whatever_the_count(make_document, summary_of):
    """Once a key is indexed, its further values are kept."""
    annotations = {f"k{i:02}": i for i in range(MAX_INDEXED_ANNOTATIONS)}
    sub = make_document(type="subsegment", parent_id=ROOT, annotations={"k00": "again"})

    summary = summary_of(make_document(id=ROOT, annotations=annotations), sub)

    assert len(summary.annotations["k00"]) == 2


def test_a_dropped_annotation_key_is_counted_once(make_document, summary_of):
    """dropped_annotation_keys counts keys beyond the 50, however many entities set them."""
    annotations = {f"k{i:02}": i for i in range(MAX_INDEXED_ANNOTATIONS)}
    subs = [
        make_document(type="subsegment", parent_id=ROOT, annotations={"extra": i}) for i in range(3)
    ]

    summary = summary_of(make_document(id=ROOT, annotations=annotations), *subs)

    assert summary.dropped_annotation_keys == 1


def test_annotations_x_ray_cannot_index_are_left_out_and_counted(make_document, summary_of):
    """API Gateway's ``aws:`` keys, dotted keys, nulls, objects and overlong strings are not
    indexed (X-Ray drops them); the valid annotations beside them are."""
    annotations = {
        "aws:api_id": "abc123",
        "grpc.status_code": 0,
        "empty": None,
        "nested": {"a": 1},
        "long": "v" * 1001,
        "customer": "acme",
    }

    summary = summary_of(make_document(id=ROOT, annotations=annotations))

    assert list(summary.annotations) == ["customer"]
    assert summary.dropped_annotation_keys == 5


def test_an_integer_no_double_holds_is_not_indexed(make_document):
    """A 400-digit annotation number would overflow the index's float: it is dropped, and the
    trace is summarised all the same."""
    raw = orjson.dumps(make_document(id=ROOT, annotations={"ok": 1})).replace(
        b'"annotations":{', b'"annotations":{"huge":' + b"9" * 400 + b","
    )
    (document,) = parse_document(raw)

    summary = summarize(TRACE_ID, TraceTree([document.view()]), 1)

    assert list(summary.annotations) == ["ok"]
    assert summary.dropped_annotation_keys == 1


def test_an_exception_that_refers_to_another_is_that_exception_in_root_causes(
    make_document, summary_of
):
    """The Java SDK describes an exception a subsegment recorded by reference in its segment:
    ``{"cause": "<id>"}``. The fault root cause lists the exception referred to, never an
    empty one."""
    exception_id = "9a8b7c6d5e4f3a2b"
    thrown = {"id": exception_id, "type": "DynamoDBException", "message": "Internal error"}
    call = make_document(
        id=CALL, name="DynamoDB", namespace="aws", fault=True,
        cause={"exceptions": [thrown]},
    )  # fmt: skip
    root = make_document(
        id=ROOT, fault=True, subsegments=[call],
        cause={"exceptions": [{"cause": exception_id}, {"id": "0000000000000bad"}]},
    )  # fmt: skip

    summary = summary_of(root)
    paths = [
        entity
        for cause in summary.to_api()["FaultRootCauses"]
        for service in cause["Services"]
        for entity in service["EntityPath"]
    ]

    exceptions = [e for entity in paths for e in entity.get("Exceptions", [])]
    assert exceptions
    assert {} not in exceptions
    assert all(e == {"Name": "DynamoDBException", "Message": "Internal error"} for e in exceptions)


# --- services --------------------------------------------------------------------------------


def test_the_entry_point_is_the_root_service(downstream, summary_of):
    """EntryPoint is the root segment's service, with its origin and account."""
    root, callee = downstream(
        root_fields={"origin": "AWS::EC2::Instance", "aws": {"account_id": "000000000000"}}
    )

    api = summary_of(callee, root).to_api()

    assert api["EntryPoint"] == {
        "Name": "checkout",
        "Names": ["checkout"],
        "AccountId": "000000000000",
        "Type": "AWS::EC2::Instance",
    }


def test_a_downstream_call_whose_callee_sent_a_segment_adds_no_inferred_node(
    downstream, summary_of
):
    """The real segment replaces the inferred node."""
    root, callee = downstream()

    summary = summary_of(root, callee)

    assert summary.service_ids == [ServiceId("checkout"), ServiceId("payments")]


@pytest.mark.parametrize(
    ("subsegment", "service"),
    [
        (
            {"name": "DynamoDB", "namespace": "aws", "aws": {"table_name": "orders"}},
            ServiceId("orders", "AWS::DynamoDB::Table", None, True),
        ),
        # The Python and Go SDKs name the subsegment after the endpoint prefix, the Java SDK
        # after its client: the node type is X-Ray's all the same.
        (
            {"name": "dynamodb", "namespace": "aws", "aws": {"table_name": "orders"}},
            ServiceId("orders", "AWS::DynamoDB::Table", None, True),
        ),
        (
            {"name": "AmazonDynamoDBv2", "namespace": "aws", "aws": {"table_name": "orders"}},
            ServiceId("orders", "AWS::DynamoDB::Table", None, True),
        ),
        (
            {"name": "sqs", "namespace": "aws", "aws": {"operation": "ListQueues"}},
            ServiceId("SQS", "AWS::SQS", None, True),
        ),
        (
            {
                "name": "SQS",
                "namespace": "aws",
                "aws": {"queue_url": "https://sqs.us-east-1.amazonaws.com/000000000000/jobs"},
            },
            ServiceId("jobs", "AWS::SQS::Queue", None, True),
        ),
        (
            {"name": "SNS", "namespace": "aws", "aws": {"account_id": "000000000000"}},
            ServiceId("SNS", "AWS::SNS", "000000000000", True),
        ),
        (
            {"name": "api.example.com", "namespace": "remote"},
            ServiceId("api.example.com", "remote", None, True),
        ),
        (
            {"name": "orders@db", "namespace": "remote", "sql": {"url": "db:5432"}},
            ServiceId("orders@db", "Database::SQL", None, True),
        ),
    ],
)
def test_downstream_calls_without_a_callee_segment_add_inferred_nodes(
    make_document, summary_of, subsegment, service
):
    """aws and remote subsegments stand for the node they call (xray-protocol.md 4.7, 9.2)."""
    root = make_document(subsegments=[make_document(**subsegment)])

    summary = summary_of(root)

    assert summary.service_ids == [ServiceId("checkout"), service]


# (the X-Ray SDK's subsegment name: the endpoint prefix; OpenTelemetry's: botocore's service id)
SDK_NAMES = [
    ("xray", "XRay"), ("logs", "CloudWatch Logs"), ("cognito-idp", "Cognito Identity Provider"),
    ("secretsmanager", "Secrets Manager"), ("events", "EventBridge"),
    ("bedrock-runtime", "Bedrock Runtime"), ("apigateway", "API Gateway"), ("email", "SES"),
    ("email", "SESv2"), ("route53", "Route 53"), ("api.ecr", "ECR"), ("monitoring", "CloudWatch"),
    ("states", "SFN"), ("runtime.sagemaker", "SageMaker Runtime"), ("rekognition", "Rekognition"),
    ("textract", "Textract"), ("comprehend", "Comprehend"), ("translate", "Translate"),
    ("elasticloadbalancing", "Elastic Load Balancing v2"),
    ("execute-api", "ApiGatewayManagementApi"), ("kinesisvideo", "Kinesis Video Archived Media"),
    ("dax", "DAX"), ("es", "OpenSearch"), ("scheduler", "Scheduler"), ("pipes", "Pipes"),
]  # fmt: skip


@pytest.mark.parametrize(("prefix", "service_id"), SDK_NAMES)
def test_both_sdks_names_of_an_aws_service_are_one_node(prefix, service_id):
    """An app on the X-Ray SDK and one on OpenTelemetry calling the same AWS service meet in
    one node, whose type has no spaces."""
    assert canonical_aws_service(prefix) == canonical_aws_service(service_id)
    assert canonical_aws_service(prefix).isalnum()


def test_a_service_not_known_keeps_its_name_without_spaces():
    """A node type is AWS::<letters and digits> whatever the SDK called the service."""
    assert canonical_aws_service("Unheard Of") == "UnheardOf"
    assert canonical_aws_service("quantumledger") == "Quantumledger"
    assert canonical_aws_service("...") == "..."


def test_local_subsegments_add_no_node(make_document, summary_of):
    """``local`` (and no namespace) is work inside the service."""
    subs = [make_document(name="compute", namespace="local"), make_document(name="plain")]

    summary = summary_of(make_document(subsegments=subs))

    assert summary.service_ids == [ServiceId("checkout")]


def test_hosts_resources_and_zones_are_collected_from_segments(make_document, summary_of):
    """InstanceIds, AvailabilityZones and ResourceARNs come from the segments, each once."""
    ec2 = {"instance_id": "i-0abc1234def567890", "availability_zone": "us-east-1a"}
    arn = "arn:aws:lambda:us-east-1:000000000000:function:pay"
    first = make_document(aws={"ec2": ec2}, resource_arn=arn)
    second = make_document(aws={"ec2": ec2}, resource_arn=arn, parent_id=first["id"])

    api = summary_of(first, second).to_api()

    assert api["InstanceIds"] == [{"Id": "i-0abc1234def567890"}]
    assert api["AvailabilityZones"] == [{"Name": "us-east-1a"}]
    assert api["ResourceARNs"] == [{"ARN": arn}]


# --- identity and the trace's time -----------------------------------------------------------


def test_an_sdk_trace_id_dates_the_trace_by_its_epoch(make_document, summary_of):
    """X-Ray ids carry the epoch second the trace began."""
    summary = summary_of(make_document(start_time=START + 5.0, end_time=START + 6.0))

    assert summary.id_time == float(0x6B065E19)


def test_a_w3c_trace_id_dates_the_trace_by_its_start(make_document, summary_of):
    """A random epoch part far from the start time is ignored."""
    trace_id = "1-5f0c9e2a-3b7d41c2e8a9f0617d24b5c8"

    summary = summary_of(make_document(trace_id=trace_id), trace_id=trace_id)

    assert summary.id_time == START


def test_revision_and_limit_exceeded_are_passed_through(make_document, summary_of):
    """The caller owns the revision count and the size limit."""
    summary = summary_of(make_document(), revision=7, limit_exceeded=True)

    assert summary.revision == 7
    assert summary.limit_exceeded
    assert summary.to_api()["Revision"] == 7


@pytest.mark.parametrize(
    ("value", "tagged", "api"),
    [
        ("acme", ("s", "acme"), {"StringValue": "acme"}),
        (3, ("n", 3.0), {"NumberValue": 3.0}),
        (0.25, ("n", 0.25), {"NumberValue": 0.25}),
        (True, ("b", True), {"BooleanValue": True}),
        (False, ("b", False), {"BooleanValue": False}),
    ],
)
def test_annotation_values_keep_their_kind(value, tagged, api):
    """Each value is tagged and rendered by its JSON type."""
    result = (typed_value(value), annotation_value(value))

    assert result == (tagged, api)


def test_an_entry_segment_whose_caller_never_reported_is_the_root_everywhere(
    make_document, summary_of
):
    """Its caller (an uninstrumented proxy, Lambda's own segment) is outside the trace: the
    segment is the EntryPoint, and likewise the root of the graph, with a client calling it."""
    entry = make_document(id=ROOT, parent_id=DOWNSTREAM, http={"response": {"status": 200}})

    summary = summary_of(entry)

    assert summary.to_api()["EntryPoint"] == CHECKOUT
    (visit,) = summary.facts.visits
    assert visit.root
    assert [(call.source.type, call.target.name) for call in summary.facts.calls] == [
        ("client", "checkout")
    ]


# --- root causes and API limits --------------------------------------------------------------


def test_the_response_time_root_cause_follows_the_slowest_path_and_impacts_the_client(
    downstream, summary_of
):
    """The slowest path runs from the entry segment down to the callee that took the time;
    the client waited for it, so ClientImpacting is true, as on fault and error causes."""
    root, callee = downstream(
        root_fields={"end_time": START + 1.0},
        callee_fields={"start_time": START + 0.1, "end_time": START + 0.9},
    )

    (cause,) = summary_of(root, callee).to_api()["ResponseTimeRootCauses"]

    assert cause["ClientImpacting"] is True
    names = [service["Name"] for service in cause["Services"]]
    assert names == ["checkout", "payments"]
    (callee_entity,) = cause["Services"][-1]["EntityPath"]
    assert callee_entity["Coverage"] == pytest.approx(0.8)


@pytest.mark.parametrize(("status", "shown"), [(503, 503), (2**31 - 1, 2**31 - 1), (2**31, None)])
def test_an_http_status_beyond_32_bits_is_left_out_of_the_summary(
    make_document, summary_of, status, shown
):
    """The API's HttpStatus is a 32-bit integer: a larger status a document carried is not
    returned, rather than one no typed SDK can read."""
    root = make_document(http={"response": {"status": status}})

    http = summary_of(root).to_api()["Http"]

    assert http.get("HttpStatus") == shown
