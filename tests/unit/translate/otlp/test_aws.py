"""The aws block, origin and service: AWS SDK calls and the resource (xray-protocol.md 4.3)."""

import orjson
import pytest

from fluoroscope.translate.otlp import documents_to_spans

from .conftest import CLIENT, PARENT, attributes_of


def resource_of(document):
    """The resource attributes a document reads back with, as strings."""
    request = documents_to_spans([orjson.dumps(document)])
    return {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}


DYNAMODB = {
    "rpc.system": "aws-api",
    "rpc.service": "DynamoDB",
    "rpc.method": "PutItem",
    "aws.region": "us-east-1",
    "aws.request_id": "REQ1",
    "aws.dynamodb.table_names": ["orders"],
}


@pytest.fixture
def dynamodb_call(make_span):
    """A DynamoDB PutItem call as the botocore instrumentation records it."""
    return make_span(
        kind=CLIENT, parent_span_id=PARENT, name="DynamoDB.PutItem", attributes=DYNAMODB
    )


def test_an_aws_sdk_call_is_in_the_aws_namespace(dynamodb_call, to_document):
    """rpc.system aws-api makes the aws namespace, named after the service."""
    document = to_document(dynamodb_call)

    assert (document["namespace"], document["name"]) == ("aws", "DynamoDB")


def test_an_aws_sdk_call_fills_the_aws_block(dynamodb_call, to_document):
    """Operation from rpc.method, the table from aws.dynamodb.table_names."""
    document = to_document(dynamodb_call)

    assert document["aws"] == {
        "operation": "PutItem",
        "region": "us-east-1",
        "request_id": "REQ1",
        "table_name": "orders",
    }


def test_several_tables_are_table_names(make_span, to_document):
    """More than one table is a list, as in the exporter."""
    attributes = dict(DYNAMODB, **{"aws.dynamodb.table_names": ["a", "b"]})
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes)

    assert to_document(span)["aws"]["table_names"] == ["a", "b"]


def test_aws_operation_wins_over_rpc_method(make_span, to_document):
    """An explicit aws.operation is the operation."""
    attributes = dict(DYNAMODB, **{"aws.operation": "BatchWriteItem"})
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes)

    assert to_document(span)["aws"]["operation"] == "BatchWriteItem"


def test_a_grpc_method_is_not_an_aws_operation(make_span, to_document):
    """Only AWS SDK spans turn rpc.method into an operation (the exporter does it for all)."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"rpc.system": "grpc", "rpc.method": "GetQuote"},
    )

    document = to_document(span)

    assert "aws" not in document
    assert document["namespace"] == "remote"


def test_lambda_and_sns_calls_name_their_function_and_topic(make_span, to_document):
    """What the botocore instrumentation records of an Invoke and a Publish fills
    function_name and topic_arn, so that their inferred nodes are the function and the topic,
    as the X-Ray SDK's are; its cloud.region is the call's region."""
    aws_api = {"rpc.system": "aws-api", "cloud.region": "us-east-1"}
    invoke = dict(aws_api, **{"rpc.service": "Lambda", "rpc.method": "Invoke"})
    invoke["faas.invoked_name"] = "resize-image"
    topic = "arn:aws:sns:us-east-1:123456789012:orders-topic"
    publish = dict(aws_api, **{"rpc.service": "SNS", "rpc.method": "Publish"})
    publish["aws.sns.topic.arn"] = topic

    documents = [
        to_document(make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes))
        for attributes in (invoke, publish)
    ]

    assert documents[0]["aws"]["function_name"] == "resize-image"
    assert [d["aws"]["region"] for d in documents] == ["us-east-1", "us-east-1"]
    assert documents[1]["aws"]["topic_arn"] == topic
    assert "faas.invoked_name" not in documents[0]["metadata"]["default"]
    assert "aws.sns.topic.arn" not in documents[1]["metadata"]["default"]


def test_a_function_name_outside_an_aws_call_is_not_an_aws_field(make_span, to_document):
    """faas.invoked_name names any provider's function: only an AWS SDK call's is Lambda's."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"faas.invoked_name": "f", "faas.invoked_provider": "gcp"},
    )

    assert "aws" not in to_document(span)


def test_an_aws_call_comes_back_exactly(dynamodb_call, to_document, to_span):
    """The call's attributes survive the document."""
    back = to_span(to_document(dynamodb_call))

    assert attributes_of(back) == DYNAMODB


def test_an_aws_subsegment_reads_back_as_an_aws_sdk_call(make_document, to_span):
    """rpc.system aws-api, the operation as rpc.method, the table as a table list."""
    document = make_document(
        type="subsegment",
        parent_id=PARENT.hex(),
        name="DynamoDB",
        namespace="aws",
        aws={"operation": "GetItem", "table_name": "orders", "region": "eu-west-1"},
    )

    assert attributes_of(to_span(document)) == {
        "rpc.system": "aws-api",
        "rpc.method": "GetItem",
        "aws.dynamodb.table_names": ["orders"],
        "aws.region": "eu-west-1",
    }


def test_aws_fields_without_a_convention_come_back(make_document, to_span, to_document):
    """retries and other SDK-specific fields travel as aws.xray attributes and return."""
    aws = {"operation": "SendMessage", "queue_url": "https://sqs/q", "retries": 2, "id_2": "x"}
    document = make_document(type="subsegment", parent_id=PARENT.hex(), namespace="aws", aws=aws)

    assert to_document(to_span(document))["aws"] == aws


EC2 = {
    "service.name": "checkout",
    "cloud.provider": "aws",
    "cloud.platform": "aws_ec2",
    "cloud.account.id": "123456789012",
    "cloud.availability_zone": "us-east-1a",
    "host.id": "i-0abc",
    "host.type": "m5.large",
}


def test_an_ec2_resource_gives_segments_their_origin_and_host(make_span, to_document):
    """Origin AWS::EC2::Instance, the account, and the ec2 block."""
    document = to_document(make_span(), resource=EC2)

    assert document["origin"] == "AWS::EC2::Instance"
    assert document["aws"]["account_id"] == "123456789012"
    assert document["aws"]["ec2"] == {
        "instance_id": "i-0abc",
        "availability_zone": "us-east-1a",
        "instance_size": "m5.large",
    }


def test_subsegments_get_no_origin(make_span, to_document):
    """Origin says what a service runs on; it is the segment's."""
    span = make_span(kind=CLIENT, parent_span_id=PARENT)

    assert "origin" not in to_document(span, resource=EC2)


@pytest.mark.parametrize(
    ("resource", "origin"),
    [
        ({"cloud.platform": "aws_ecs"}, "AWS::ECS::Container"),
        ({"cloud.platform": "aws_ecs", "aws.ecs.launchtype": "fargate"}, "AWS::ECS::Fargate"),
        ({"cloud.platform": "aws_ecs", "aws.ecs.launchtype": "ec2"}, "AWS::ECS::EC2"),
        ({"cloud.platform": "aws_eks"}, "AWS::EKS::Container"),
        ({"cloud.platform": "aws_lambda"}, "AWS::Lambda::Function"),
        ({"cloud.platform": "aws_app_runner"}, "AWS::AppRunner::Service"),
        (
            {"cloud.platform": "aws_elastic_beanstalk"},
            "AWS::ElasticBeanstalk::Environment",
        ),
    ],
)
def test_the_cloud_platform_is_the_origin(make_span, to_document, resource, origin):
    """Each AWS platform has its origin."""
    document = to_document(make_span(), resource=dict(resource, **{"service.name": "s"}))

    assert document["origin"] == origin


def test_another_cloud_gets_no_origin(make_span, to_document):
    """Nothing AWS-specific is said of a service on another provider."""
    resource = {"service.name": "s", "cloud.provider": "gcp", "cloud.platform": "aws_ec2"}

    assert "origin" not in to_document(make_span(), resource=resource)


def test_the_sdk_is_named_in_the_xray_block(make_span, to_document):
    """telemetry.sdk.* become aws.xray, as "<name> for <language>"."""
    resource = {
        "service.name": "s",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": "1.45.2",
        "telemetry.auto.version": "0.66b2",
    }

    document = to_document(make_span(), resource=resource)

    assert document["aws"]["xray"] == {
        "sdk": "opentelemetry for python",
        "sdk_version": "1.45.2",
        "auto_instrumentation": True,
    }


def test_the_service_version_is_the_service_block(make_span, to_document):
    """service.version, and the runtime X-Ray SDKs report there."""
    resource = {
        "service.name": "s",
        "service.version": "1.4.2",
        "process.runtime.name": "CPython",
        "process.runtime.version": "3.11.7",
    }

    document = to_document(make_span(), resource=resource)

    assert document["service"] == {
        "version": "1.4.2",
        "runtime": "CPython",
        "runtime_version": "3.11.7",
    }


def test_a_container_image_tag_versions_a_service_that_set_none(make_span, to_document):
    """As the exporter does, container.image.tag stands in for a missing service.version."""
    tagged = {"service.name": "s", "container.image.tag": "2.0.1"}

    assert to_document(make_span(), resource=tagged)["service"] == {"version": "2.0.1"}
    versioned = dict(tagged, **{"service.version": "1.4.2"})
    assert to_document(make_span(), resource=versioned)["service"] == {"version": "1.4.2"}


def test_a_kubernetes_cluster_on_no_platform_is_an_eks_block(make_span, to_document):
    """k8s.cluster.name alone gives aws.eks, as in the exporter; a bare host.id gives no
    aws.ec2 (off AWS it is the machine's id), and another provider gives neither."""
    resource = {
        "service.name": "s",
        "k8s.cluster.name": "prod",
        "k8s.pod.name": "svc-7d9",
        "container.id": "abc123",
        "host.id": "0f1e2d3c",
    }

    aws = to_document(make_span(), resource=resource)["aws"]

    assert aws["eks"] == {"cluster_name": "prod", "pod": "svc-7d9", "container_id": "abc123"}
    assert "ec2" not in aws
    on_gcp = dict(resource, **{"cloud.provider": "gcp"})
    assert "eks" not in to_document(make_span(), resource=on_gcp).get("aws", {})


def test_an_ecs_block_has_its_availability_zone(make_span, to_document):
    """The exporter's ECS block carries the task's zone."""
    resource = {
        "service.name": "s",
        "cloud.platform": "aws_ecs",
        "container.name": "web",
        "cloud.availability_zone": "eu-west-1a",
    }

    ecs = to_document(make_span(), resource=resource)["aws"]["ecs"]

    assert ecs == {"container": "web", "availability_zone": "eu-west-1a"}


def test_a_resource_comes_back_exactly(make_span, to_document):
    """Resource attributes the document does not hold travel in metadata.otel."""
    resource = dict(EC2, **{"cloud.region": "us-east-1", "service.instance.id": "u-1"})

    document = to_document(make_span(), resource=resource)

    assert resource_of(document) == resource


def test_a_segment_reads_back_with_its_service_and_host_as_the_resource(make_document):
    """Name, origin, account, EC2 host, SDK and service become resource attributes."""
    document = make_document(
        origin="AWS::EC2::Instance",
        service={"version": "1.4.2"},
        aws={
            "account_id": "123456789012",
            "ec2": {"instance_id": "i-0abc", "availability_zone": "us-east-1a"},
            "xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"},
        },
    )

    assert resource_of(document) == {
        "service.name": "checkout",
        "cloud.provider": "aws",
        "cloud.platform": "aws_ec2",
        "service.version": "1.4.2",
        "cloud.account.id": "123456789012",
        "host.id": "i-0abc",
        "cloud.availability_zone": "us-east-1a",
        "telemetry.sdk.name": "X-Ray",
        "telemetry.sdk.language": "Python",
        "telemetry.sdk.version": "2.15.0",
    }


def test_an_unknown_origin_comes_back(make_document, to_span, to_document):
    """An origin no platform stands for travels as aws.xray.origin."""
    document = make_document(origin="AWS::DynamoDB::Table")

    assert to_document(to_span(document))["origin"] == "AWS::DynamoDB::Table"
