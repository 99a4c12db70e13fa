"""Service identities: which node of the service graph a segment or a downstream call is.

A real node is a segment's (name, origin, account). A subsegment in the ``aws`` or ``remote``
namespace whose callee sent no segment stands for an inferred node, named as X-Ray names them
(xray-protocol.md 4.7 and 9.2): an AWS resource by its resource name and
``AWS::<Service>::<Resource>`` type, a service without a known resource as ``AWS::<Service>``, a
SQL database as ``Database::SQL`` and any other remote call as ``remote``.
"""

from dataclasses import dataclass

from fluoroscope.model.segment import Segment


@dataclass(slots=True, frozen=True)
class ServiceId:
    """A node identity: the ``ServiceId`` shape of the X-Ray API."""

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


# aws-block key holding the resource name, and the resource type it names, per AWS service.
_AWS_RESOURCES: dict[str, tuple[str, str]] = {
    "dynamodb": ("table_name", "Table"),
    "sqs": ("queue_url", "Queue"),
    "sns": ("topic_arn", "Topic"),
    "lambda": ("function_name", "Function"),
    "s3": ("bucket_name", "Bucket"),
    "kinesis": ("stream_name", "Stream"),
}


def service_of(segment: Segment) -> ServiceId:
    """The real node a segment reports for."""
    return ServiceId(segment.name, segment.origin, segment.account_id)


def is_downstream_call(entity: Segment) -> bool:
    """Whether a subsegment calls another node (X-Ray draws an edge for it)."""
    return entity.is_subsegment and entity.namespace in ("aws", "remote")


def inferred_service(subsegment: Segment) -> ServiceId:
    """The inferred node for a downstream subsegment whose callee sent no segment."""
    if subsegment.namespace == "aws":
        service = subsegment.name
        resource = _AWS_RESOURCES.get(service.lower())
        aws = subsegment.aws or {}
        if resource is not None:
            key, kind = resource
            value = aws.get(key)
            if isinstance(value, str) and value:
                return ServiceId(
                    _resource_name(value), f"AWS::{service}::{kind}", _str(aws, "account_id"), True
                )
        return ServiceId(service, f"AWS::{service}", _str(aws, "account_id"), True)
    if subsegment.sql_url is not None:
        return ServiceId(subsegment.name, "Database::SQL", None, True)
    return ServiceId(subsegment.name, "remote", None, True)


def _resource_name(value: str) -> str:
    """The last component of a queue URL or an ARN, else the value itself."""
    for separator in ("/", ":"):
        if separator in value:
            value = value.rsplit(separator, 1)[1] or value
    return value


def _str(block: dict[str, object], key: str) -> str | None:
    value = block.get(key)
    return value if isinstance(value, str) else None
