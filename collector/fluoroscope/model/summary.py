"""Trace summaries: what GetTraceSummaries returns and what the store indexes.

Semantics follow the botocore ``TraceSummary`` documentation (xray-protocol.md 8.2): HasFault,
HasError, Http and ResponseTime describe the entry (root) segment; HasThrottle, IsPartial, users
and annotations look at every segment. A summary is computed when a trace changes, never at query
time.
"""

from dataclasses import dataclass, field

from fluoroscope.model.ids import trace_id_epoch
from fluoroscope.model.segment import AnnotationValue, Segment
from fluoroscope.model.services import (
    ServiceId,
    inferred_service,
    is_downstream_call,
    service_of,
)
from fluoroscope.model.trace import Completeness, TraceTree

TypedValue = tuple[str, AnnotationValue]

# X-Ray indexes at most 50 annotations per trace (developer guide, "Annotations").
MAX_INDEXED_ANNOTATIONS = 50

# A trace id's epoch part is used as the trace's time for TimeRangeType TraceId only when it is
# within this many seconds of the trace's real start; otherwise the id is W3C-born (its prefix is
# random) and the real start time is used. A random prefix lands this close by chance with
# probability below 1e-4.
PLAUSIBLE_ID_EPOCH_SECONDS = 86_400.0


@dataclass(slots=True)
class TraceSummary:
    """Everything known about a trace at one revision, ready to index and to return."""

    trace_id: str
    revision: int
    start_time: float
    end_time: float
    id_time: float
    duration: float
    response_time: float | None
    has_fault: bool
    has_error: bool
    has_throttle: bool
    is_partial: bool
    completeness: Completeness
    limit_exceeded: bool
    http_method: str | None = None
    http_url: str | None = None
    http_user_agent: str | None = None
    http_client_ip: str | None = None
    http_status: int | None = None
    entry_point: ServiceId | None = None
    service_ids: list[ServiceId] = field(default_factory=list)
    # key -> typed value -> services that set it; only the indexed (first 50) keys.
    annotations: dict[str, dict[TypedValue, list[ServiceId]]] = field(default_factory=dict)
    users: dict[str, list[ServiceId]] = field(default_factory=dict)
    resource_arns: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)
    availability_zones: list[str] = field(default_factory=list)
    # Annotation keys beyond the 50 that X-Ray indexes.
    dropped_annotation_keys: int = 0

    def to_api(self) -> dict[str, object]:
        """The botocore ``TraceSummary`` structure (without the query-dependent fields)."""
        out: dict[str, object] = {
            "Id": self.trace_id,
            "StartTime": self.start_time,
            "Duration": self.duration,
            "HasFault": self.has_fault,
            "HasError": self.has_error,
            "HasThrottle": self.has_throttle,
            "IsPartial": self.is_partial,
            "Revision": self.revision,
        }
        if self.response_time is not None:
            out["ResponseTime"] = self.response_time
        http: dict[str, object] = {}
        for key, value in (
            ("HttpURL", self.http_url),
            ("HttpStatus", self.http_status),
            ("HttpMethod", self.http_method),
            ("UserAgent", self.http_user_agent),
            ("ClientIp", self.http_client_ip),
        ):
            if value is not None:
                http[key] = value
        out["Http"] = http
        out["Annotations"] = {
            key: [
                {"AnnotationValue": _annotation_value(value), "ServiceIds": _api_ids(services)}
                for (_, value), services in values.items()
            ]
            for key, values in self.annotations.items()
        }
        out["Users"] = [
            {"UserName": user, "ServiceIds": _api_ids(services)}
            for user, services in self.users.items()
        ]
        out["ServiceIds"] = _api_ids(self.service_ids)
        out["ResourceARNs"] = [{"ARN": arn} for arn in self.resource_arns]
        out["InstanceIds"] = [{"Id": instance} for instance in self.instance_ids]
        out["AvailabilityZones"] = [{"Name": zone} for zone in self.availability_zones]
        if self.entry_point is not None:
            out["EntryPoint"] = self.entry_point.to_api()
        out["FaultRootCauses"] = []
        out["ErrorRootCauses"] = []
        out["ResponseTimeRootCauses"] = []
        return out


def summarize(
    trace_id: str, tree: TraceTree, revision: int, *, limit_exceeded: bool = False
) -> TraceSummary:
    """Summarise a trace from its tree."""
    entities = tree.entities.values()
    segments = tree.segments or list(entities)
    start = min(s.start_time for s in segments)
    end = max(_last_moment(e) for e in entities)
    root = tree.root
    epoch = float(trace_id_epoch(trace_id))
    id_time = epoch if abs(epoch - start) <= PLAUSIBLE_ID_EPOCH_SECONDS else start
    summary = TraceSummary(
        trace_id=trace_id,
        revision=revision,
        start_time=start,
        end_time=end,
        id_time=id_time,
        duration=max(0.0, end - start),
        response_time=(
            root.end_time - root.start_time
            if root is not None and root.end_time is not None
            else None
        ),
        has_fault=root is not None and _faulted(root),
        has_error=root is not None and _errored(root),
        has_throttle=any(_throttled(e) for e in entities),
        is_partial=tree.completeness is Completeness.IN_PROGRESS,
        completeness=tree.completeness,
        limit_exceeded=limit_exceeded,
    )
    if root is not None:
        summary.http_method = root.http_method
        summary.http_url = root.http_url
        summary.http_user_agent = root.http_user_agent
        summary.http_client_ip = root.http_client_ip
        summary.http_status = root.http_status
        summary.entry_point = service_of(root)
    _collect_services(tree, summary)
    return summary


def _collect_services(tree: TraceTree, summary: TraceSummary) -> None:
    services: dict[ServiceId, None] = {}
    arns: dict[str, None] = {}
    instances: dict[str, None] = {}
    zones: dict[str, None] = {}
    for segment in sorted(tree.segments, key=lambda s: s.start_time):
        service = service_of(segment)
        services[service] = None
        if segment.user is not None:
            _add(summary.users.setdefault(segment.user, []), service)
        if segment.resource_arn is not None:
            arns[segment.resource_arn] = None
        if segment.instance_id is not None:
            instances[segment.instance_id] = None
        if segment.availability_zone is not None:
            zones[segment.availability_zone] = None
    for entity in tree.entities.values():
        if entity.annotations:
            owner = tree.segment_of(entity.id)
            service = service_of(owner) if owner is not None else None
            for key, value in entity.annotations.items():
                values = summary.annotations.get(key)
                if values is None:
                    if len(summary.annotations) >= MAX_INDEXED_ANNOTATIONS:
                        summary.dropped_annotation_keys += 1
                        continue
                    values = summary.annotations[key] = {}
                holders = values.setdefault(typed_value(value), [])
                if service is not None:
                    _add(holders, service)
        if is_downstream_call(entity) and tree.callee_of(entity.id) is None:
            services[inferred_service(entity)] = None
    summary.service_ids = list(services)
    summary.resource_arns = list(arns)
    summary.instance_ids = list(instances)
    summary.availability_zones = list(zones)


def typed_value(value: AnnotationValue) -> TypedValue:
    """An annotation value tagged with its kind: ``s``tring, ``n``umber or ``b``oolean.

    1, 1.0 and True are equal in Python; the tag keeps ``vip = true`` and ``count = 1`` apart,
    while 1 and 1.0 are the same number, as in X-Ray's ``NumberValue``.
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    return ("s", value)


def _add(services: list[ServiceId], service: ServiceId) -> None:
    if service not in services:
        services.append(service)


def _api_ids(services: list[ServiceId]) -> list[dict[str, object]]:
    return [service.to_api() for service in services]


def _annotation_value(value: AnnotationValue) -> dict[str, object]:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": float(value)}
    return {"StringValue": value}


def _last_moment(entity: Segment) -> float:
    return entity.end_time if entity.end_time is not None else entity.start_time


def _faulted(segment: Segment) -> bool:
    return segment.fault or (segment.http_status is not None and segment.http_status >= 500)


def _errored(segment: Segment) -> bool:
    status = segment.http_status
    return segment.error or (status is not None and 400 <= status < 500)


def _throttled(segment: Segment) -> bool:
    return segment.throttle or segment.http_status == 429
