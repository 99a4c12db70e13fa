"""Root causes: where in a trace a fault, an error, or the time went.

X-Ray does not publish its algorithm (xray-protocol.md 8.2). Fluoroscope's:

- **Fault and error**: the deepest entities carrying the flag (none of their descendants,
  across service boundaries, carries it). For each, the chain of services from the entry
  segment down to it, each service with the entity path walked inside it; a downstream call
  whose callee sent nothing ends in its inferred node. Exceptions come from the entity's
  ``cause`` (or the exception its ``cause`` id refers to).
- **Response time**: from the entry segment, repeatedly into the child that took longest,
  down to a leaf; each entity on the way reports its share of the entry segment's response
  time as ``Coverage``.

Computed when a trace changes, as part of its summary.
"""

from typing import Any

from fluoroscope.model.segment import Cause, Segment
from fluoroscope.model.services import ServiceId, inferred_service, is_downstream_call, service_of
from fluoroscope.model.trace import TraceTree

# Bounds on what one trace can report, whatever its size.
MAX_CAUSES = 10
MAX_DEPTH = 64

ApiObject = dict[str, Any]


def root_causes(tree: TraceTree) -> tuple[list[ApiObject], list[ApiObject], list[ApiObject]]:
    """The FaultRootCauses, ErrorRootCauses and ResponseTimeRootCauses of a trace."""
    children = _children(tree)
    entities = tree.entities.values()
    # Most traces have neither: one cheap pass saves the search for the deepest ones.
    faulty = any(_faulted(e) for e in entities)
    erroneous = any(_errored(e) for e in entities)
    exceptions = _exceptions_by_id(tree) if faulty or erroneous else {}
    faults = _flagged(tree, children, exceptions, _faulted) if faulty else []
    errors = _flagged(tree, children, exceptions, _errored) if erroneous else []
    slowest = _slowest(tree, children)
    return faults, errors, slowest


def _faulted(entity: Segment) -> bool:
    status = entity.status
    return entity.fault or (status is not None and status >= 500)


def _errored(entity: Segment) -> bool:
    status = entity.status
    return entity.error or entity.throttle or (status is not None and 400 <= status < 500)


def _children(tree: TraceTree) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for entity_id, parent in tree.parent.items():
        if parent is not None and parent in tree.entities:
            children.setdefault(parent, []).append(entity_id)
    return children


def _exceptions_by_id(tree: TraceTree) -> dict[str, ApiObject]:
    found: dict[str, ApiObject] = {}
    for entity in tree.entities.values():
        if isinstance(entity.cause, Cause):
            for item in entity.cause.exceptions:
                if item.id is not None and (item.type is not None or item.message is not None):
                    found[item.id] = _exception(item.type, item.message)
    return found


def _exception(kind: str | None, message: str | None) -> ApiObject:
    out: ApiObject = {}
    if kind is not None:
        out["Name"] = kind
    if message is not None:
        out["Message"] = message
    return out


def _flagged(
    tree: TraceTree,
    children: dict[str, list[str]],
    exceptions: dict[str, ApiObject],
    flagged: Any,
) -> list[ApiObject]:
    root = tree.root
    deepest = []
    for entity in tree.entities.values():
        if flagged(entity) and not _flag_below(entity.id, tree, children, flagged):
            deepest.append(entity)
    deepest.sort(key=lambda e: e.start_time)
    causes: list[ApiObject] = []
    for entity in deepest[:MAX_CAUSES]:
        services = _chain(tree, entity, lambda e: _entity(e, exceptions))
        if not services:
            continue
        cause = {"Services": services, "ClientImpacting": root is not None and flagged(root)}
        if cause not in causes:
            causes.append(cause)
    return causes


def _flag_below(
    entity_id: str, tree: TraceTree, children: dict[str, list[str]], flagged: Any
) -> bool:
    stack = list(children.get(entity_id, ()))
    seen = 0
    while stack and seen <= len(tree.entities):
        seen += 1
        current = stack.pop()
        if flagged(tree.entities[current]):
            return True
        stack.extend(children.get(current, ()))
    return False


def _entity(entity: Segment, exceptions: dict[str, ApiObject]) -> ApiObject:
    out: ApiObject = {"Name": entity.name, "Remote": is_downstream_call(entity)}
    cause = entity.cause
    if isinstance(cause, Cause):
        described = []
        for item in cause.exceptions:
            if item.type is not None or item.message is not None:
                described.append(_exception(item.type, item.message))
            elif isinstance(item.cause, str) and item.cause in exceptions:
                described.append(exceptions[item.cause])  # a reference: what it refers to
        out["Exceptions"] = described
    elif isinstance(cause, str) and cause in exceptions:
        out["Exceptions"] = [exceptions[cause]]
    return out


def _chain(tree: TraceTree, entity: Segment, describe: Any) -> list[ApiObject]:
    """Services from the entry segment down to ``entity``, each with its entity path."""
    chain: list[ApiObject] = []  # bottom first, reversed at the end
    if is_downstream_call(entity) and entity.id not in tree.callees:
        inferred = inferred_service(entity)
        chain.append(_service(inferred, [{"Name": inferred.name, "Remote": True}]))
    current: Segment | None = entity
    for _ in range(MAX_DEPTH):
        if current is None:
            break
        owner_id = tree.owner.get(current.id)
        if owner_id is None:
            return []  # a subsegment whose segment never arrived: no service to blame
        owner = tree.entities[owner_id]
        chain.append(
            _service(service_of(owner), [describe(e) for e in _path(tree, owner_id, current.id)])
        )
        caller = owner.parent_id
        current = tree.entities.get(caller) if caller is not None else None
    chain.reverse()  # built from the bottom up
    return chain


def _path(tree: TraceTree, top: str, bottom: str) -> list[Segment]:
    path = []
    current: str | None = bottom
    for _ in range(len(tree.entities) + 1):
        if current is None or current not in tree.entities:
            break
        path.append(tree.entities[current])
        if current == top:
            break
        current = tree.parent.get(current)
    path.reverse()
    return path


def _service(service: ServiceId, path: list[ApiObject]) -> ApiObject:
    out = service.to_api()
    out["Inferred"] = service.inferred
    out["EntityPath"] = path
    return out


def _slowest(tree: TraceTree, children: dict[str, list[str]]) -> list[ApiObject]:
    root = tree.root
    if root is None or root.end_time is None:
        return []
    total = root.end - root.start_time
    if total <= 0:
        return []
    entities = tree.entities
    current = root
    for _ in range(MAX_DEPTH):
        below = children.get(current.id)
        if not below:
            break
        # The first of the longest children, as max() would pick it.
        current = entities[below[0]]
        longest = current.end - current.start_time
        for child_id in below[1:]:
            child = entities[child_id]
            took = child.end - child.start_time
            if took > longest:
                longest = took
                current = child

    def describe(entity: Segment) -> ApiObject:
        coverage = (entity.end - entity.start_time) / total
        if coverage > 1.0:
            coverage = 1.0
        elif coverage < 0.0:
            coverage = 0.0
        return {
            "Name": entity.name,
            "Coverage": round(coverage, 6),
            "Remote": is_downstream_call(entity),
        }

    services = _chain(tree, current, describe)
    if services and "Coverage" not in services[-1]["EntityPath"][0]:
        # An inferred node at the end: it took what the call that reached it took.
        services[-1]["EntityPath"] = [describe(current) | {"Name": services[-1]["Name"]}]
    # The path runs down from the entry segment, whose response the client waited for.
    return [{"Services": services, "ClientImpacting": True}] if services else []
