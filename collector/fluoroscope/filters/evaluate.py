"""Evaluating a filter expression against one trace, in memory.

This is the reference semantics: the SQL the store compiles an expression into only narrows
the candidates, and every candidate is confirmed here. Choices where X-Ray's behaviour is not
published (see the README's compatibility notes):

- Keywords about "the trace" (ok, error, fault, responsetime, http.*) describe the entry
  segment; throttle, partial, user, availabilityzone, instance.id and resource.arn hold when
  *any* segment satisfies them; ``ok`` means no fault, error or throttle anywhere at the root.
- A comparison on a multi-valued subject (annotations, users) holds when some value satisfies
  it, ``!=`` included.
- ``service(...) { block }`` holds when some visit of a matching node (or, for an inferred
  node, some call into it) satisfies the block; ``edge(a, b) { block }`` when some call from a
  to b does. Inside blocks, responsetime and duration are that visit's or call's time.
- String comparisons are case-sensitive; ``x CONTAINS ""`` tests that x is set.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fluoroscope.filters.ast import (
    And,
    Annotation,
    Compare,
    Edge,
    Field,
    Group,
    Node,
    NodeRef,
    Not,
    Or,
    Present,
    RootCause,
    RootCauseJson,
    Service,
)
from fluoroscope.model.facts import CLIENT_TYPE, Call, Status, Visit
from fluoroscope.model.services import ServiceId
from fluoroscope.model.summary import TraceSummary, typed_value

# A group's name or ARN -> its parsed filter (None: the group matches every trace).
Groups = Mapping[str, Node | None]
# How deep group references may nest (a group's filter naming another group).
MAX_GROUP_DEPTH = 8

_Scope = Callable[[str], Any]


def matches(node: Node, summary: TraceSummary, groups: Groups | None = None) -> bool:
    """Whether the trace ``summary`` describes satisfies the expression."""
    return _Evaluator(summary, groups or {}).test(node, _trace_scope(summary), 0)


class _Evaluator:
    def __init__(self, summary: TraceSummary, groups: Groups) -> None:
        self.summary = summary
        self.groups = groups

    def test(self, node: Node, scope: _Scope, depth: int) -> bool:
        if isinstance(node, And):
            return self.test(node.left, scope, depth) and self.test(node.right, scope, depth)
        if isinstance(node, Or):
            return self.test(node.left, scope, depth) or self.test(node.right, scope, depth)
        if isinstance(node, Not):
            return not self.test(node.operand, scope, depth)
        if isinstance(node, Present):
            return any(_present(value) for value in self._values(node.subject, scope))
        if isinstance(node, Compare):
            return any(
                _compare(value, node.op, node.value) for value in self._values(node.subject, scope)
            )
        if isinstance(node, Service):
            return self._service(node)
        if isinstance(node, Edge):
            return any(
                _is(call.source, node.source)
                and _is(call.target, node.target)
                and (node.block is None or self.test(node.block, _call_scope(call), depth))
                for call in self.summary.facts.calls
            )
        if isinstance(node, Group):
            return self._group(node, depth)
        if isinstance(node, RootCause):
            return self._root_cause(node, depth)
        if isinstance(node, RootCauseJson):
            causes = [
                *self.summary.fault_root_causes,
                *self.summary.error_root_causes,
                *self.summary.response_time_root_causes,
            ]
            return all(any(_fragment(v, cause) for cause in causes) for v in node.values)
        raise TypeError(f"not a filter node: {node!r}")

    def _values(self, subject: Field | Annotation, scope: _Scope) -> list[Any]:
        if isinstance(subject, Annotation):
            values = self.summary.annotations.get(subject.key, {})
            return [value for _, value in values]
        value = scope(subject.name)
        return list(value) if isinstance(value, list) else [value]

    def _service(self, node: Service) -> bool:
        for visit in self.summary.facts.visits:
            if _is(visit.service, node.node) and (
                node.block is None or self.test(node.block, _visit_scope(visit), 0)
            ):
                return True
        for call in self.summary.facts.calls:
            target = call.target
            if (
                target.inferred
                and target.type != CLIENT_TYPE
                and _is(target, node.node)
                and (node.block is None or self.test(node.block, _call_scope(call), 0))
            ):
                return True
        return False

    def _group(self, node: Group, depth: int) -> bool:
        if depth >= MAX_GROUP_DEPTH or node.value not in self.groups:
            found = False
        else:
            expression = self.groups[node.value]
            found = expression is None or self.test(
                expression, _trace_scope(self.summary), depth + 1
            )
        return found if node.op == "=" else not found

    def _root_cause(self, node: RootCause, depth: int) -> bool:
        causes = {
            "fault": self.summary.fault_root_causes,
            "error": self.summary.error_root_causes,
            "responsetime": self.summary.response_time_root_causes,
        }[node.kind]
        for cause in causes:
            for scope in _cause_scopes(cause, node.level):
                if self.test(node.block, scope, depth):
                    return True
        return False


def _trace_scope(s: TraceSummary) -> _Scope:
    visits = s.facts.visits
    values: dict[str, Any] = {
        "ok": s.ok,
        "error": s.has_error,
        "fault": s.has_fault,
        "throttle": s.has_throttle,
        "partial": s.is_partial,
        "inferred": s.inferred,
        "responsetime": s.response_time,
        "duration": s.duration,
        "http.status": s.http_status,
        "http.url": s.http_url,
        "http.method": s.http_method,
        "http.useragent": s.http_user_agent,
        "http.clientip": s.http_client_ip,
        "user": list(s.users) or [None],
        "availabilityzone": s.availability_zones or [None],
        "instance.id": s.instance_ids or [None],
        "resource.arn": s.resource_arns or [None],
        "root": any(v.root for v in visits),
    }
    return values.get


def _visit_scope(v: Visit) -> _Scope:
    values: dict[str, Any] = {
        "ok": v.status is Status.OK,
        "error": v.status is Status.ERROR or v.error,
        "fault": v.status is Status.FAULT,
        "throttle": v.status is Status.THROTTLE or v.throttle,
        "partial": v.in_progress,
        "root": v.root,
        "responsetime": v.response_time,
        "duration": v.response_time,
        "http.status": v.http_status,
        "http.url": v.http_url,
        "http.method": v.http_method,
        "http.useragent": v.http_user_agent,
        "http.clientip": v.http_client_ip,
        "user": v.user,
        "name": v.service.name,
        "type": v.service.type,
        "inferred": False,
    }
    return values.get


def _call_scope(c: Call) -> _Scope:
    values: dict[str, Any] = {
        "ok": c.status is Status.OK,
        "error": c.status is Status.ERROR or c.error,
        "fault": c.status is Status.FAULT,
        "throttle": c.status is Status.THROTTLE or c.throttle,
        "partial": c.in_progress,
        "root": False,
        "responsetime": c.response_time,
        "duration": c.response_time,
        "http.status": c.http_status,
        "http.url": c.http_url,
        "http.method": c.http_method,
        "name": c.target.name,
        "type": c.target.type,
        "inferred": c.target.inferred,
    }
    return values.get


def _cause_scopes(cause: Mapping[str, Any], level: str) -> Iterable[_Scope]:
    services = cause.get("Services", [])
    for s_index, service in enumerate(services):
        if level == "service":
            yield _listed(
                {
                    "name": service.get("Name"),
                    "type": service.get("Type"),
                    "inferred": service.get("Inferred", False),
                    "remote": False,
                },
                s_index,
                len(services),
            )
            continue
        path = service.get("EntityPath", [])
        for e_index, entity in enumerate(path):
            if level == "entity":
                yield _listed(
                    {
                        "name": entity.get("Name"),
                        "remote": entity.get("Remote", False),
                        "coverage": entity.get("Coverage"),
                        "inferred": service.get("Inferred", False),
                        "type": service.get("Type"),
                    },
                    e_index,
                    len(path),
                )
                continue
            exceptions = entity.get("Exceptions", [])
            for x_index, exception in enumerate(exceptions):
                yield _listed(
                    {
                        "name": exception.get("Name"),
                        "message": exception.get("Message"),
                        "remote": entity.get("Remote", False),
                    },
                    x_index,
                    len(exceptions),
                )


def _listed(values: dict[str, Any], index: int, count: int) -> _Scope:
    values |= {"index": index, "first": index == 0, "last": index == count - 1}
    return values.get


def _is(service: ServiceId, ref: NodeRef | None) -> bool:
    if ref is None:
        return True
    return (
        (ref.name is None or ref.name == service.name)
        and (ref.type is None or ref.type == service.type)
        and (ref.account_id is None or ref.account_id == service.account_id)
    )


def _present(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return value is not None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        if not (isinstance(expected, bool) and isinstance(actual, bool)):
            return False
        if op == "=":
            return actual == expected
        return actual != expected if op == "!=" else False
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        if op == "contains":
            return expected in actual
        if op == "beginswith":
            return actual.startswith(expected)
        if op == "endswith":
            return actual.endswith(expected)
    elif isinstance(actual, str):
        return False
    if op == "=":
        return typed_value(actual) == typed_value(expected)
    if op == "!=":
        return typed_value(actual) != typed_value(expected)
    try:
        if op == "<":
            return bool(actual < expected)
        if op == "<=":
            return bool(actual <= expected)
        if op == ">":
            return bool(actual > expected)
        if op == ">=":
            return bool(actual >= expected)
    except TypeError:
        return False
    return False


def _fragment(pattern: Any, value: Any) -> bool:
    """Whether ``value`` has every field ``pattern`` gives (lists match item by item)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and _fragment(item, value[key]) for key, item in pattern.items()
        )
    if isinstance(pattern, list):
        return (
            isinstance(value, list)
            and len(pattern) <= len(value)
            and all(_fragment(p, v) for p, v in zip(pattern, value, strict=False))
        )
    if isinstance(pattern, int | float) and isinstance(value, int | float):
        return float(pattern) == float(value)
    return bool(pattern == value)
