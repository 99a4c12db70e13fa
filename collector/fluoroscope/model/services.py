"""Service identities: which node of the service graph a segment or a downstream call is.

A real node is a segment's (name, origin, account). A subsegment in the ``aws`` or ``remote``
namespace whose callee sent no segment stands for an inferred node, named as X-Ray names them
(xray-protocol.md 4.7 and 9.2): an AWS resource by its resource name and
``AWS::<Service>::<Resource>`` type, a service without a known resource as ``AWS::<Service>``, a
SQL database as ``Database::SQL`` and any other remote call as ``remote``.
"""

import re
from typing import NamedTuple

from fluoroscope.model.segment import Segment


class ServiceId(NamedTuple):
    """A node identity: the ``ServiceId`` shape of the X-Ray API.

    A named tuple rather than a dataclass: identities are hashed and compared for every
    segment of every trace, and tuple hashing is done in C.
    """

    name: str
    type: str | None = None
    account_id: str | None = None
    inferred: bool = False

    def to_api(self) -> dict[str, object]:
        """The botocore ``ServiceId`` structure."""
        out: dict[str, object] = {"Name": self.name, "Names": [self.name]}
        if self.account_id is not None:
            out["AccountId"] = self.account_id
        if self.type is not None:
            out["Type"] = self.type
        return out


# The aws-block field that names a resource, and the resource type it names, per AWS service.
_AWS_RESOURCES: dict[str, tuple[str, str]] = {
    "dynamodb": ("table_name", "Table"),
    "sqs": ("queue_url", "Queue"),
    "sns": ("topic_arn", "Topic"),
    "lambda": ("function_name", "Function"),
    "s3": ("bucket_name", "Bucket"),
    "kinesis": ("stream_name", "Stream"),
}
# The namespaces of subsegments that call another node.
DOWNSTREAM_NAMESPACES = frozenset({"aws", "remote"})
# The service names X-Ray's node types use, by every name SDKs give their subsegments, reduced
# to lower-case letters and digits without "Amazon"/"AWS" and a "v2": the Node SDK writes
# "DynamoDB", the Python and Go SDKs the endpoint prefix ("dynamodb", "logs", "email",
# "api.ecr"), the Java SDK "AmazonDynamoDBv2", and OpenTelemetry's botocore instrumentation the
# service id ("CloudWatch Logs", "Cognito Identity Provider").
_ALIASES: dict[str, tuple[str, ...]] = {
    "DynamoDB": (), "SQS": (), "SNS": (), "Lambda": (), "S3": (), "Kinesis": (),
    "Firehose": (), "EC2": (), "ECS": (), "EKS": (), "STS": (), "KMS": (), "SSM": (),
    "SecretsManager": (), "CloudWatch": ("monitoring",), "CloudWatchLogs": ("logs",),
    "EventBridge": ("events",), "SES": ("email",), "Athena": (), "Glue": (),
    "StepFunctions": ("sfn", "states"), "CloudFormation": (), "IAM": (), "ElastiCache": (),
    "RDS": (), "Route53": (), "AppSync": (), "XRay": (), "ECR": ("apiecr",),
    "Cognito": ("cognitoidp", "cognitoidentityprovider", "cognitoidentity"),
    "Bedrock": ("bedrockruntime",), "APIGateway": ("executeapi", "apigatewaymanagementapi"),
    "SageMaker": (), "SageMakerRuntime": ("runtimesagemaker",), "Rekognition": (),
    "Textract": (), "Comprehend": (), "Translate": (), "DAX": (),
    "ElasticLoadBalancing": ("elb",), "OpenSearch": ("es", "elasticsearch"),
    "Scheduler": (), "Pipes": (),
    "KinesisVideo": ("kinesisvideoarchivedmedia", "kinesisvideomedia"),
}  # fmt: skip
_CANONICAL = {key: name for name, aliases in _ALIASES.items() for key in (name.lower(), *aliases)}
_NOT_KEY = re.compile(r"[^a-z0-9]")


# Identities repeat across traces; building one is slower than finding it. Bounded: cleared
# when full, which only costs rebuilding.
_CACHE_LIMIT = 10_000
_services: dict[tuple[str, str | None, str | None], ServiceId] = {}
_canonical: dict[str, str] = {}


def service_of(segment: Segment) -> ServiceId:
    """The real node a segment reports for."""
    aws = segment.aws
    key = (segment.name, segment.origin, aws.account_id if aws is not None else None)
    service = _services.get(key)
    if service is None:
        if len(_services) >= _CACHE_LIMIT:
            _services.clear()
        service = _services[key] = ServiceId(*key)
    return service


def is_downstream_call(entity: Segment) -> bool:
    """Whether a subsegment calls another node (X-Ray draws an edge for it)."""
    return entity.namespace in DOWNSTREAM_NAMESPACES


def inferred_service(subsegment: Segment) -> ServiceId:
    """The inferred node for a downstream subsegment whose callee sent no segment."""
    if subsegment.namespace == "aws":
        service = canonical_aws_service(subsegment.name)
        aws = subsegment.aws
        account = aws.account_id if aws is not None else None
        resource = _AWS_RESOURCES.get(service.lower())
        if resource is not None and aws is not None:
            field, kind = resource
            value = getattr(aws, field)
            if value:
                return ServiceId(_resource_name(value), f"AWS::{service}::{kind}", account, True)
        return ServiceId(service, f"AWS::{service}", account, True)
    if subsegment.sql is not None:
        return ServiceId(subsegment.name, "Database::SQL", None, True)
    return ServiceId(subsegment.name, "remote", None, True)


def canonical_aws_service(name: str) -> str:
    """The service name X-Ray's node types use for an SDK's name of an AWS service.

    A service not in the table keeps its name without spaces or punctuation, capitalised when
    it is all lower case ("rekognition" and "Rekognition" are one node), so that a node type is
    ``AWS::<letters and digits>`` (a name with neither stays as it is)."""
    known = _canonical.get(name)
    if known is None:
        if len(_canonical) >= _CACHE_LIMIT:
            _canonical.clear()
        known = _canonical[name] = _canonical_of(name)
    return known


def canonical_node_type(node_type: str) -> str:
    """A node type as the graph writes it: ``AWS::<service>[::<resource>]`` with the service
    named as :func:`canonical_aws_service` names it (``AWS::xray`` is ``AWS::XRay``)."""
    prefix, _, rest = node_type.partition("::")
    if prefix != "AWS" or not rest:
        return node_type
    service, separator, resource = rest.partition("::")
    return f"AWS::{canonical_aws_service(service)}{separator}{resource}"


def node_types(written: str) -> tuple[str, ...]:
    """The node types a filter's ``type:`` names: as written, and with an AWS service named as
    the graph names inferred nodes (``AWS::xray`` finds ``AWS::XRay`` too); a real segment's
    own origin is kept as it was sent, so both count."""
    canonical = canonical_node_type(written)
    return (written,) if canonical == written else (written, canonical)


def _canonical_of(name: str) -> str:
    key = _NOT_KEY.sub("", name.lower())
    for prefix in ("amazon", "aws"):
        if key.startswith(prefix) and key[len(prefix) :]:
            key = key[len(prefix) :]
    if key.endswith("v2") and key[:-2]:
        key = key[:-2]
    known = _CANONICAL.get(key)
    if known is not None:
        return known
    compact = "".join(character for character in name if character.isalnum())
    if not compact:
        return name
    return compact[0].upper() + compact[1:] if compact.islower() else compact


def _resource_name(value: str) -> str:
    """The last component of a queue URL or an ARN, else the value itself."""
    for separator in ("/", ":"):
        if separator in value:
            value = value.rsplit(separator, 1)[1] or value
    return value
