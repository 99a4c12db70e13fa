"""Trace summaries: what GetTraceSummaries returns and what the store indexes.

Semantics follow the botocore ``TraceSummary`` documentation (xray-protocol.md 8.2): HasFault,
HasError, Http and ResponseTime describe the entry (root) segment; HasThrottle, IsPartial, users
and annotations look at every segment. A summary is computed when a trace changes, never at query
time.
"""

import string
from dataclasses import dataclass, field
from typing import Any

from fluoroscope.model.facts import CLIENT_TYPE, TraceFacts, facts_of
from fluoroscope.model.ids import trace_id_epoch
from fluoroscope.model.rootcause import root_causes
from fluoroscope.model.segment import (
    MAX_ANNOTATION_KEY_LENGTH,
    MAX_ANNOTATION_VALUE_LENGTH,
    AnnotationValue,
)
from fluoroscope.model.services import (
    ServiceId,
    service_of,
)
from fluoroscope.model.trace import Completeness, TraceTree

# An annotation value tagged with its kind ("s", "n" or "b"), so that true and 1 stay apart.
TypedValue = tuple[str, AnnotationValue]

# X-Ray indexes at most 50 annotations per trace (developer guide, "Annotations").
MAX_INDEXED_ANNOTATIONS = 50
_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_")

# A trace id's epoch part is used as the trace's time for TimeRangeType TraceId only when it is
# within this many seconds of the trace's real start; otherwise the id is W3C-born (its prefix is
# random) and the real start time is used. A random prefix lands this close by chance with
# probability below 1e-4.
PLAUSIBLE_ID_EPOCH_SECONDS = 86_400.0


@dataclass(slots=True)
class TraceSummary:
    """Everything known about a trace at one revision, ready to index and to return.

    Services are listed once in ``service_ids``; annotations, users and the entry point refer
    to them by index, which keeps the stored form small.
    """

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
    limit_exceeded: bool = False
    http_method: str | None = None
    http_url: str | None = None
    http_user_agent: str | None = None
    http_client_ip: str | None = None
    http_status: int | None = None
    entry_point: int | None = None
    service_ids: list[ServiceId] = field(default_factory=list)
    # key -> typed value -> indexes of the services that set it; only the first 50 keys.
    annotations: dict[str, dict[TypedValue, list[int]]] = field(default_factory=dict)
    users: dict[str, list[int]] = field(default_factory=dict)
    resource_arns: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)
    availability_zones: list[str] = field(default_factory=list)
    # Annotation keys beyond the 50 that X-Ray indexes.
    dropped_annotation_keys: int = 0
    # Root causes, in the botocore shapes (see rootcause.py).
    fault_root_causes: list[dict[str, Any]] = field(default_factory=list)
    error_root_causes: list[dict[str, Any]] = field(default_factory=list)
    response_time_root_causes: list[dict[str, Any]] = field(default_factory=list)
    # True when the trace has inferred nodes (the ``inferred`` filter keyword).
    inferred: bool = False
    # Every visit and call: what service() and edge() filters look at.
    facts: TraceFacts = field(default_factory=lambda: TraceFacts([], []))

    @property
    def root_throttled(self) -> bool:
        """The entry segment's response was a throttle (the ``throttle`` filter keyword, which
        like ``error`` is about the trace's answer: a throttle downstream that the service
        handled is ``has_throttle`` only)."""
        return self.http_status == 429 or any(v.root and v.throttle for v in self.facts.visits)

    @property
    def ok(self) -> bool:
        """The entry segment answered, 2xx or without an HTTP status, with no fault, error or
        throttle (the ``ok`` filter keyword)."""
        status = self.http_status
        return (
            self.response_time is not None
            and not (self.has_fault or self.has_error or self.root_throttled)
            and (status is None or 200 <= status < 300)
        )

    def to_api(self) -> dict[str, object]:
        """The botocore ``TraceSummary`` structure (without the query-dependent fields)."""
        services = [service.to_api() for service in self.service_ids]
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
            # The API's HttpStatus is a 32-bit integer; a document may carry a larger status.
            ("HttpStatus", self.http_status if _fits_int32(self.http_status) else None),
            ("HttpMethod", self.http_method),
            ("UserAgent", self.http_user_agent),
            ("ClientIp", self.http_client_ip),
        ):
            if value is not None:
                http[key] = value
        out["Http"] = http
        out["Annotations"] = {
            key: [
                {
                    "AnnotationValue": annotation_value(value),
                    "ServiceIds": [services[i] for i in holders],
                }
                for (_, value), holders in values.items()
            ]
            for key, values in self.annotations.items()
        }
        out["Users"] = [
            {"UserName": user, "ServiceIds": [services[i] for i in holders]}
            for user, holders in self.users.items()
        ]
        out["ServiceIds"] = services
        out["ResourceARNs"] = [{"ARN": arn} for arn in self.resource_arns]
        out["InstanceIds"] = [{"Id": instance} for instance in self.instance_ids]
        out["AvailabilityZones"] = [{"Name": zone} for zone in self.availability_zones]
        if self.entry_point is not None:
            out["EntryPoint"] = services[self.entry_point]
        out["FaultRootCauses"] = self.fault_root_causes
        out["ErrorRootCauses"] = self.error_root_causes
        out["ResponseTimeRootCauses"] = self.response_time_root_causes
        return out


def summarize(
    trace_id: str, tree: TraceTree, revision: int, *, limit_exceeded: bool = False
) -> TraceSummary:
    """Summarise a trace from its tree."""
    entities = tree.entities.values()
    segments = tree.segments or list(entities)
    start = min(s.start_time for s in segments)
    end = start
    has_throttle = False
    for entity in entities:
        moment = entity.end_time if entity.end_time is not None else entity.start_time
        end = max(end, moment)
        if entity.throttle or (entity.http is not None and entity.status == 429):
            has_throttle = True
    root = tree.root
    epoch = float(trace_id_epoch(trace_id))
    summary = TraceSummary(
        trace_id,
        revision,
        start,
        end,
        epoch if abs(epoch - start) <= PLAUSIBLE_ID_EPOCH_SECONDS else start,
        end - start,
        None,
        False,
        False,
        has_throttle,
        tree.completeness is Completeness.IN_PROGRESS,
        tree.completeness,
        limit_exceeded,
    )
    if root is not None:
        if root.end_time is not None:
            summary.response_time = root.end_time - root.start_time
        status = root.status
        summary.has_fault = root.fault or (status is not None and status >= 500)
        summary.has_error = root.error or (status is not None and 400 <= status < 500)
        summary.http_status = status
        request = root.http.request if root.http is not None else None
        if request is not None:
            summary.http_method = request.method
            summary.http_url = request.url
            summary.http_user_agent = request.user_agent
            summary.http_client_ip = request.client_ip
    summary.facts = facts_of(tree)
    _collect_services(tree, summary)
    summary.inferred = any(service.inferred for service in summary.service_ids)
    faults, errors, slowest = root_causes(tree)
    summary.fault_root_causes = faults
    summary.error_root_causes = errors
    summary.response_time_root_causes = slowest
    return summary


def _collect_services(tree: TraceTree, summary: TraceSummary) -> None:
    index: dict[ServiceId, int] = {}
    # Segment id -> its service's position in ``index``.
    positions: dict[str, int] = {}
    segments = tree.segments
    if len(segments) > 1:
        segments = sorted(segments, key=lambda s: s.start_time)
    for segment in segments:
        position = index.setdefault(service_of(segment), len(index))
        positions[segment.id] = position
        if segment is tree.root:
            summary.entry_point = position
        if segment.user is not None:
            _add(summary.users.setdefault(segment.user, []), position)
        if segment.resource_arn is not None and segment.resource_arn not in summary.resource_arns:
            summary.resource_arns.append(segment.resource_arn)
        ec2 = segment.aws.ec2 if segment.aws is not None else None
        if ec2 is not None:
            if ec2.instance_id is not None and ec2.instance_id not in summary.instance_ids:
                summary.instance_ids.append(ec2.instance_id)
            zone = ec2.availability_zone
            if zone is not None and zone not in summary.availability_zones:
                summary.availability_zones.append(zone)
    annotations = summary.annotations
    dropped: set[str] = set()
    for entity in tree.entities.values():
        if entity.annotations:
            owner = tree.owner.get(entity.id)
            holder = positions.get(owner) if owner is not None else None
            for key, value in entity.annotations.items():
                if not indexable(key, value):
                    dropped.add(key)
                    continue
                values = annotations.get(key)
                if values is None:
                    if len(annotations) >= MAX_INDEXED_ANNOTATIONS:
                        dropped.add(key)
                        continue
                    values = annotations[key] = {}
                holders = values.setdefault(typed_value(value), [])
                if holder is not None:
                    _add(holders, holder)
    # Inferred nodes: the targets of calls whose callee sent nothing (computed with the facts).
    for call in summary.facts.calls:
        target = call.target
        if target.inferred and target.type != CLIENT_TYPE:
            index.setdefault(target, len(index))
    summary.service_ids = list(index)
    summary.dropped_annotation_keys = len(dropped)


def indexable(key: str, value: object) -> bool:
    """Whether X-Ray indexes an annotation: a key of 1-500 ASCII letters, digits and
    underscores; a value that is a string of at most 1,000 characters, a number a double
    holds, or a boolean. X-Ray drops the others silently; here they are counted with the keys
    past the 50th (``dropped_annotation_keys``) and stay in the stored document."""
    if not 0 < len(key) <= MAX_ANNOTATION_KEY_LENGTH or not _KEY_CHARACTERS.issuperset(key):
        return False
    if isinstance(value, str):
        return len(value) <= MAX_ANNOTATION_VALUE_LENGTH
    if isinstance(value, bool | float):
        return True
    if isinstance(value, int):
        try:
            float(value)  # the index keeps numbers as doubles
        except OverflowError:
            return False
        return True
    return False


def typed_value(value: AnnotationValue) -> TypedValue:
    """An annotation value tagged with its kind: ``s``tring, ``n``umber or ``b``oolean.

    1, 1.0 and True are equal in Python; the tag keeps ``vip = true`` and ``count = 1`` apart,
    while 1 and 1.0 are the same number, as in X-Ray's ``NumberValue``.
    """
    if value is True or value is False:
        return ("b", value)
    if type(value) is str:
        return ("s", value)
    return ("n", float(value))


def annotation_value(value: AnnotationValue) -> dict[str, object]:
    """The botocore ``AnnotationValue`` union for a value."""
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": float(value)}
    return {"StringValue": value}


def _add(positions: list[int], position: int) -> None:
    if position not in positions:
        positions.append(position)


def _fits_int32(value: int | None) -> bool:
    return value is not None and -(2**31) <= value < 2**31
