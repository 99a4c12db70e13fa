"""The ``aws`` block's call fields: what an AWS SDK span says about the call it made.

To X-Ray, after the Collector's exporter (``aws.go``), from the span's attributes:

=================== ==========================================================================
``operation``       ``aws.operation``; on AWS SDK spans (``rpc.system`` = ``aws-api``) also
                    ``rpc.method``
``account_id``      ``aws.account_id`` (on segments, else the resource's ``cloud.account.id``)
``region``          ``aws.region``; on AWS SDK spans also ``cloud.region``
``request_id``      ``aws.request_id``, ``aws.requestId``
``queue_url``       ``aws.queue_url``, ``aws.queue.url``
``table_name``      ``aws.dynamodb.table_names`` when it names one table (``table_names`` when
                    it names more), else ``aws.table_name``, ``aws.table.name``
``bucket_name``     ``aws.s3.bucket``
``function_name``   ``aws.lambda.function.name``; on AWS SDK spans also ``faas.invoked_name``
``topic_arn``       ``aws.sns.topic.arn``
=================== ==========================================================================

The last two (not in the exporter) are what the botocore instrumentation writes for Lambda and
SNS calls, so that their inferred nodes are the function and the topic, as with X-Ray SDKs.

The exporter also derives ``operation`` from ``rpc.method`` on every gRPC span; here only AWS
SDK spans get it, since a gRPC method is not an AWS operation. From X-Ray, the fields go back to
the first attribute of each row (``operation`` to ``rpc.method`` on ``aws`` subsegments, whose
``rpc.system`` is then ``aws-api``); other fields travel as ``aws.xray.aws.<field>``.
The segment-level fields of the block (``xray``, ``ec2``, ...) are the resource's (``_resource``).
"""

from collections.abc import Mapping
from typing import Any

from fluoroscope.translate.otlp._values import Value, string, strings

_FIELDS = (
    ("operation", ("aws.operation",)),
    ("account_id", ("aws.account_id",)),
    ("region", ("aws.region",)),
    ("request_id", ("aws.request_id", "aws.requestId")),
    ("queue_url", ("aws.queue_url", "aws.queue.url")),
    ("bucket_name", ("aws.s3.bucket",)),
    ("function_name", ("aws.lambda.function.name",)),
    ("topic_arn", ("aws.sns.topic.arn",)),
)
# What OpenTelemetry's AWS SDK instrumentations record of a call under general names.
_SDK_FIELDS = (
    ("operation", "rpc.method"),
    ("region", "cloud.region"),
    ("function_name", "faas.invoked_name"),
)
_TO_ATTRIBUTE = {field: keys[0] for field, keys in _FIELDS}
TABLES = "aws.dynamodb.table_names"


def to_xray(
    attributes: Mapping[str, Value], *, aws_sdk: bool, account_id: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The call fields of a span's ``aws`` block (possibly none), and the keys they consumed."""
    used: list[str] = []
    block: dict[str, Any] = {}
    for field, keys in _FIELDS:
        for key in keys:
            value = string(attributes, key)
            if value is not None:
                block[field] = value
                used.append(key)
                break
    if aws_sdk:
        for field, key in _SDK_FIELDS:
            value = string(attributes, key) if field not in block else None
            if value is not None:
                block[field] = value
                used.append(key)
    if "account_id" not in block and account_id is not None:
        block["account_id"] = account_id
    tables = strings(attributes, TABLES)
    if tables:
        if len(tables) == 1:
            block["table_name"] = tables[0]
        else:
            block["table_names"] = tables
        used.append(TABLES)
    else:
        for key in ("aws.table_name", "aws.table.name"):
            value = string(attributes, key)
            if value is not None:
                block["table_name"] = value
                used.append(key)
                break
    return block, used


def from_xray(
    aws: dict[str, Any],
    attributes: dict[str, Value],
    extras: dict[tuple[str, ...], Any],
    *,
    aws_sdk: bool,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Add the attributes an ``aws`` block's call fields stand for; others go to extras.

    ``skip`` names the fields the resource has already taken (on segments).
    """
    table = aws.get("table_name")
    tables = aws.get("table_names")
    for field, value in aws.items():
        if field in skip:
            continue
        name = _TO_ATTRIBUTE.get(field)
        if field == "operation" and aws_sdk:
            name = "rpc.method"
        if name is not None and isinstance(value, str):
            attributes[name] = {"stringValue": value}
        elif field == "table_name" and isinstance(value, str) and tables is None:
            attributes[TABLES] = {"arrayValue": {"values": [{"stringValue": value}]}}
        elif field == "table_names" and table is None and _is_names(value) and len(value) > 1:
            attributes[TABLES] = {
                "arrayValue": {"values": [{"stringValue": name} for name in value]}
            }
        else:
            extras[("aws", field)] = value


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
