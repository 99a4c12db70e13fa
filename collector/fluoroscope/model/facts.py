"""What a trace says about the service graph: each service visit and each call between nodes.

Facts are derived from a :class:`TraceTree` once per revision. The same facts feed three
things, so they always agree: the per-trace rows that filter expressions query, the service
graph's statistics, and the in-memory evaluation of filters.

Status classes are exclusive, as X-Ray's statistics are (Ok + Error + Fault = Total): fault
(5xx or ``fault``) over throttle (429 or ``throttle``) over error (other 4xx or ``error``) over ok.
"""

import enum
from dataclasses import dataclass
from typing import NamedTuple

from fluoroscope.model.segment import Segment
from fluoroscope.model.services import ServiceId, inferred_service, is_downstream_call, service_of
from fluoroscope.model.trace import TraceTree

CLIENT_TYPE = "client"


class Status(enum.IntEnum):
    """The exclusive status class of one entity."""

    OK = 0
    ERROR = 1
    THROTTLE = 2
    FAULT = 3


def status_of(entity: Segment) -> Status:
    """Classify an entity by its flags and HTTP status."""
    status = entity.status
    if entity.fault or (status is not None and status >= 500):
        return Status.FAULT
    if entity.throttle or status == 429:
        return Status.THROTTLE
    if entity.error or (status is not None and 400 <= status < 500):
        return Status.ERROR
    return Status.OK


class Visit(NamedTuple):
    """One segment: a service handling one request (a named tuple: built for every segment)."""

    service: ServiceId
    root: bool
    status: Status
    # Raw flags, since several can be set at once (a downstream 429 may cause a local 500).
    fault: bool
    error: bool
    throttle: bool
    in_progress: bool
    start: float
    end: float
    http_status: int | None
    http_url: str | None
    http_method: str | None
    http_user_agent: str | None
    http_client_ip: str | None
    user: str | None

    @property
    def response_time(self) -> float:
        """Seconds from start to end (to start, while in progress)."""
        return self.end - self.start


class Call(NamedTuple):
    """One call from a node to another: the caller's subsegment, or the client's request."""

    source: ServiceId
    target: ServiceId
    status: Status
    fault: bool
    error: bool
    throttle: bool
    in_progress: bool
    start: float
    end: float
    http_status: int | None
    http_url: str | None
    http_method: str | None

    @property
    def response_time(self) -> float:
        """Seconds from start to end, as the caller saw it."""
        return self.end - self.start


@dataclass(slots=True)
class TraceFacts:
    """Every visit and call of one trace."""

    visits: list[Visit]
    calls: list[Call]


def client_of(root: ServiceId) -> ServiceId:
    """The synthetic node that stands for whoever called a root service."""
    return ServiceId(root.name, CLIENT_TYPE, None, True)


def facts_of(tree: TraceTree) -> TraceFacts:
    """Derive the visits and calls of a trace."""
    visits: list[Visit] = []
    calls: list[Call] = []
    services: dict[str, ServiceId] = {}
    entry = tree.root
    for segment in tree.segments:
        service = service_of(segment)
        services[segment.id] = service
        # A segment no caller reported is the entry point when no segment is parentless (a
        # caller outside the collector's view, as Lambda's own segment is): the summary's
        # EntryPoint, the root keyword and the graph's client node all say so alike.
        root = segment.parent_id is None or segment is entry
        visit = _visit(segment, service, root)
        visits.append(visit)
        if root:
            calls.append(_call(segment, client_of(service), service))
    for entity in tree.entities.values():
        callee = tree.callees.get(entity.id)
        if callee is None and not is_downstream_call(entity):
            continue
        owner = tree.owner.get(entity.id)
        if owner is None or owner not in services:
            continue  # a call from a subsegment whose segment never arrived
        target = services[callee.id] if callee is not None else inferred_service(entity)
        calls.append(_call(entity, services[owner], target))
    return TraceFacts(visits, calls)


def _visit(segment: Segment, service: ServiceId, root: bool) -> Visit:
    request = segment.http.request if segment.http is not None else None
    # Positional: keyword construction of a named tuple costs twice as much.
    return Visit(
        service,
        root,
        status_of(segment),
        segment.fault,
        segment.error,
        segment.throttle,
        segment.in_progress,
        segment.start_time,
        segment.end,
        segment.status,
        request.url if request is not None else None,
        request.method if request is not None else None,
        request.user_agent if request is not None else None,
        request.client_ip if request is not None else None,
        segment.user,
    )


def _call(entity: Segment, source: ServiceId, target: ServiceId) -> Call:
    request = entity.http.request if entity.http is not None else None
    return Call(
        source,
        target,
        status_of(entity),
        entity.fault,
        entity.error,
        entity.throttle,
        entity.in_progress,
        entity.start_time,
        entity.end,
        entity.status,
        request.url if request is not None else None,
        request.method if request is not None else None,
    )
