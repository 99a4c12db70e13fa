"""What a segment says about its service and host, against the OTLP resource.

To X-Ray, as the Collector's exporter does (``segment.go``, ``aws.go``, ``service.go``), a segment
takes from its resource:

- ``origin`` from ``cloud.platform``: ``aws_ec2`` AWS::EC2::Instance, ``aws_ecs``
  AWS::ECS::Container (AWS::ECS::EC2 or AWS::ECS::Fargate by ``aws.ecs.launchtype``),
  ``aws_eks`` AWS::EKS::Container, ``aws_elastic_beanstalk`` AWS::ElasticBeanstalk::Environment,
  ``aws_app_runner`` AWS::AppRunner::Service, and (not in the exporter) ``aws_lambda``
  AWS::Lambda::Function. Nothing AWS-specific is written when ``cloud.provider`` names another
  cloud;
- ``service``: ``version`` from ``service.version`` (else ``container.image.tag``), and (not in
  the exporter) ``runtime``/``runtime_version`` from ``process.runtime.name`` and
  ``process.runtime.version``, the fields X-Ray SDKs write there;
- ``aws.xray``: ``sdk`` is ``telemetry.sdk.name`` followed by `` for <telemetry.sdk.language>``,
  ``sdk_version`` is ``telemetry.sdk.version``, ``auto_instrumentation`` is true when
  ``telemetry.auto.version`` is set;
- ``aws.account_id`` from ``cloud.account.id``; ``aws.ec2``, ``aws.ecs``, ``aws.eks``,
  ``aws.elastic_beanstalk`` on the matching platform (``aws.eks`` also for a ``k8s.cluster.name``
  on no platform; but ``aws.ec2`` not for a bare ``host.id``, which off AWS is a machine id);
  ``aws.cloudwatch_logs`` from ``aws.log.group.arns`` or ``aws.log.group.names``;
  ``resource_arn`` from ``cloud.resource_id``.

From X-Ray, a segment's resource gets ``service.name`` (its name), the ``cloud.*`` attributes its
origin stands for, ``service.version`` and ``process.runtime.*``, ``telemetry.sdk.*`` (the SDK
string split at its last " for "), ``cloud.account.id``, ``cloud.resource_id``, and the EC2 block
as ``host.*``/``cloud.availability_zone`` on EC2. The ECS, EKS, Elastic Beanstalk and log-group
blocks overlap in OpenTelemetry's conventions (``container.id``, ``service.version``), so they
travel whole as ``aws.xray.aws.<block>`` span attributes instead (``_fields``), as does any field
named here under an origin that does not match it.
"""

from collections.abc import Mapping
from typing import Any

from fluoroscope.translate.otlp._values import Value, string

_PLATFORM_ORIGINS = {
    "aws_ec2": "AWS::EC2::Instance",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
    "aws_app_runner": "AWS::AppRunner::Service",
    "aws_lambda": "AWS::Lambda::Function",
}
_ECS_ORIGINS = {"ec2": "AWS::ECS::EC2", "fargate": "AWS::ECS::Fargate"}
# Origin to the resource attributes that give it back.
_ORIGIN_ATTRIBUTES: dict[str, dict[str, str]] = {
    origin: {"cloud.provider": "aws", "cloud.platform": platform}
    for platform, origin in _PLATFORM_ORIGINS.items()
}
_ORIGIN_ATTRIBUTES["AWS::ECS::Container"] = {"cloud.provider": "aws", "cloud.platform": "aws_ecs"}
for _launch, _origin in _ECS_ORIGINS.items():
    _ORIGIN_ATTRIBUTES[_origin] = {
        "cloud.provider": "aws",
        "cloud.platform": "aws_ecs",
        "aws.ecs.launchtype": _launch,
    }
_EC2 = {
    "instance_id": "host.id",
    "availability_zone": "cloud.availability_zone",
    "instance_size": "host.type",
    "ami_id": "host.image.id",
}
_ECS = {
    "container": "container.name",
    "container_id": "container.id",
    "container_arn": "aws.ecs.container.arn",
    "cluster_arn": "aws.ecs.cluster.arn",
    "task_arn": "aws.ecs.task.arn",
    "task_family": "aws.ecs.task.family",
    "availability_zone": "cloud.availability_zone",
}
_EKS = {"cluster_name": "k8s.cluster.name", "pod": "k8s.pod.name", "container_id": "container.id"}
_SERVICE = {
    "version": "service.version",
    "runtime": "process.runtime.name",
    "runtime_version": "process.runtime.version",
}
_XRAY = {"sdk_version": "telemetry.sdk.version"}
# The aws block's fields that belong to the segment's host rather than to a call.
SEGMENT_AWS_FIELDS = frozenset(
    {"account_id", "xray", "ec2", "ecs", "eks", "elastic_beanstalk", "cloudwatch_logs"}
)
_SDK_JOIN = " for "


def segment_fields(resource: Mapping[str, Value]) -> dict[str, Any]:
    """The fields a resource gives every segment it produces (``aws`` holds only host fields)."""
    fields: dict[str, Any] = {}
    aws: dict[str, Any] = {}
    provider = string(resource, "cloud.provider")
    if provider in (None, "aws"):
        platform = string(resource, "cloud.platform")
        origin = _PLATFORM_ORIGINS.get(platform or "")
        if platform == "aws_ecs":
            launch = string(resource, "aws.ecs.launchtype") or ""
            origin = _ECS_ORIGINS.get(launch, "AWS::ECS::Container")
        if origin is not None:
            fields["origin"] = origin
        account = string(resource, "cloud.account.id")
        if account is not None:
            aws["account_id"] = account
        _host_blocks(resource, platform, aws)
        arn = string(resource, "cloud.resource_id")
        if arn is not None:
            fields["resource_arn"] = arn
    service = _block(resource, _SERVICE)
    tag = string(resource, "container.image.tag")
    if "version" not in service and tag is not None:
        # As the exporter does: a container's image tag versions a service that set none.
        service["version"] = tag
    if service:
        fields["service"] = service
    xray = _xray(resource)
    if xray:
        aws["xray"] = xray
    if aws:
        fields["aws"] = aws
    return fields


def from_xray(segment: Mapping[str, Any], extras: dict[tuple[str, ...], Any]) -> dict[str, Value]:
    """A segment's resource attributes; the fields they cannot carry go to extras."""
    resource: dict[str, Value] = {}
    name = segment.get("name")
    if isinstance(name, str):
        resource["service.name"] = {"stringValue": name}
    origin = segment.get("origin")
    platform = None
    if origin is not None:
        implied = _ORIGIN_ATTRIBUTES.get(origin) if isinstance(origin, str) else None
        if implied is None:
            extras[("origin",)] = origin
        else:
            resource.update(_strings(implied))
            platform = implied["cloud.platform"]
    arn = segment.get("resource_arn")
    if isinstance(arn, str):
        resource["cloud.resource_id"] = {"stringValue": arn}
    elif "resource_arn" in segment:
        extras[("resource_arn",)] = arn
    if "service" in segment:
        _unblock(segment["service"], _SERVICE, ("service",), resource, extras)
    aws = segment.get("aws")
    if isinstance(aws, dict):
        for field, value in aws.items():
            if field not in SEGMENT_AWS_FIELDS:
                continue  # a call field (_aws)
            if field == "account_id" and isinstance(value, str):
                resource["cloud.account.id"] = {"stringValue": value}
            elif field == "xray":
                _from_xray_block(value, resource, extras)
            elif field == "ec2" and platform == "aws_ec2":
                _unblock(value, _EC2, ("aws", "ec2"), resource, extras)
            else:
                extras[("aws", field)] = value
    return resource


def _host_blocks(resource: Mapping[str, Value], platform: str | None, aws: dict[str, Any]) -> None:
    if platform == "aws_ec2":
        ec2 = _block(resource, _EC2)
        if ec2:
            aws["ec2"] = ec2
    elif platform == "aws_ecs":
        ecs = _block(resource, _ECS)
        if ecs:
            launch = string(resource, "aws.ecs.launchtype")
            if launch is not None:
                ecs["launch_type"] = launch
            aws["ecs"] = ecs
    elif platform == "aws_eks" or (platform is None and "k8s.cluster.name" in resource):
        # A Kubernetes cluster on no platform named is EKS to the exporter too (the provider
        # is AWS or unsaid here).
        eks = _block(resource, _EKS)
        if eks:
            aws["eks"] = eks
    elif platform == "aws_elastic_beanstalk":
        beanstalk = _beanstalk(resource)
        if beanstalk:
            aws["elastic_beanstalk"] = beanstalk
    logs = _log_groups(resource)
    if logs:
        aws["cloudwatch_logs"] = logs


def _beanstalk(resource: Mapping[str, Value]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    environment = string(resource, "service.namespace")
    if environment is not None:
        block["environment_name"] = environment
    version = string(resource, "service.version")
    if version is not None:
        block["version_label"] = version
    deployment = string(resource, "service.instance.id")
    if deployment is not None and deployment.isdigit():
        block["deployment_id"] = int(deployment)
    return block


def _log_groups(resource: Mapping[str, Value]) -> list[dict[str, str]]:
    arns = _names(resource, "aws.log.group.arns")
    if arns:
        # arn:aws:logs:<region>:<account>:log-group:<name>[:*]
        return [
            {"log_group": parts[6] if len(parts := arn.split(":")) > 6 else arn, "arn": arn}
            for arn in arns
        ]
    return [{"log_group": name} for name in _names(resource, "aws.log.group.names")]


def _names(resource: Mapping[str, Value], key: str) -> list[str]:
    # OTEL_RESOURCE_ATTRIBUTES can only give a string, where detectors give an array.
    value = resource.get(key)
    if value is None:
        return []
    if "stringValue" in value:
        return [value["stringValue"]]
    items = value.get("arrayValue", {}).get("values", [])
    return [item["stringValue"] for item in items if "stringValue" in item]


def _xray(resource: Mapping[str, Value]) -> dict[str, Any]:
    xray: dict[str, Any] = {}
    name = string(resource, "telemetry.sdk.name")
    if name is not None:
        language = string(resource, "telemetry.sdk.language")
        suffix = f"{_SDK_JOIN}{language}" if language else ""
        xray["sdk"] = name if name.lower().endswith(suffix.lower()) else name + suffix
    xray.update(_block(resource, _XRAY))
    if "telemetry.auto.version" in resource:
        xray["auto_instrumentation"] = True
    return xray


def _from_xray_block(
    xray: Any, resource: dict[str, Value], extras: dict[tuple[str, ...], Any]
) -> None:
    if not isinstance(xray, dict):
        extras[("aws", "xray")] = xray
        return
    for field, value in xray.items():
        if field == "sdk" and isinstance(value, str):
            name, joined, language = value.rpartition(_SDK_JOIN)
            if joined and name and language:
                resource["telemetry.sdk.name"] = {"stringValue": name}
                resource["telemetry.sdk.language"] = {"stringValue": language}
            else:
                resource["telemetry.sdk.name"] = {"stringValue": value}
        elif field in _XRAY and isinstance(value, str):
            resource[_XRAY[field]] = {"stringValue": value}
        else:
            extras[("aws", "xray", field)] = value


def _block(resource: Mapping[str, Value], names: Mapping[str, str]) -> dict[str, Any]:
    block = {}
    for field, key in names.items():
        value = string(resource, key)
        if value is not None:
            block[field] = value
    return block


def _unblock(
    block: Any,
    names: Mapping[str, str],
    path: tuple[str, ...],
    resource: dict[str, Value],
    extras: dict[tuple[str, ...], Any],
) -> None:
    if not isinstance(block, dict):
        extras[path] = block
        return
    for field, value in block.items():
        key = names.get(field)
        if key is not None and isinstance(value, str):
            resource[key] = {"stringValue": value}
        else:
            extras[(*path, field)] = value


def _strings(attributes: Mapping[str, str]) -> dict[str, Value]:
    return {key: {"stringValue": value} for key, value in attributes.items()}
