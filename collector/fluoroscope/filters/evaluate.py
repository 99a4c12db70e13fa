"""Evaluating a filter expression against one trace, in memory.

This is the reference semantics: the SQL the store compiles an expression into only narrows
the candidates, and every candidate is confirmed here. Choices where X-Ray's behaviour is not
published (see the README's compatibility notes):

- Keywords about "the trace" (ok, error, fault, throttle, responsetime, http.*) describe the
  entry segment's answer, as the developer guide says: a downstream error or throttle the
  service handled is not one of the trace. ``ok`` holds when the entry segment answered, 2xx or
  without an HTTP status, with no fault, error or throttle. partial, user, availabilityzone,
  instance.id and resource.arn hold when *any* segment satisfies them.
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
from fluoroscope.model.services import ServiceId, node_types
from fluoroscope.model.summary import TraceSummary, typed_value

# A group's name or ARN -> its parsed filter (None: the group matches every trace).
Groups = Mapping[str, Node | None]
# How deep group references may nest (a group's filter naming another group).
MAX_GROUP_DEPTH = 8

_Scope = Callable[[str], Any]


def matches(node: Node, summary: TraceSummary, groups: Groups | None = None) -> bool:
    """Whether the trace ``summary`` describes satisfies the expression."""
    return _Evaluator(summary, groups or {}).test(node, _trace_scope(summary), 0)


Predicate = Callable[[TraceSummary], bool]


def predicate(node: Node, groups: Groups | None = None) -> Predicate:
    """``matches(node, ·, groups)`` as a function made once, for testing many traces.

    Trace-level keywords, annotations and the logic between them become closures that read only
    what they test; anything else (service and edge blocks, groups, root causes) is evaluated
    as :func:`matches` does.
    """
    if isinstance(node, And):
        left, right = predicate(node.left, groups), predicate(node.right, groups)
        return lambda s: left(s) and right(s)
    if isinstance(node, Or):
        left, right = predicate(node.left, groups), predicate(node.right, groups)
        return lambda s: left(s) or right(s)
    if isinstance(node, Not):
        operand = predicate(node.operand, groups)
        return lambda s: not operand(s)
    if isinstance(node, Present | Compare):
        subject = node.subject
        if isinstance(subject, Field) and subject.name in _SCALAR_TRACE_FIELDS:
            field = _TRACE_FIELDS[subject.name]  # one value: no list to go through
            if isinstance(node, Present):
                return lambda s: _present(field(s))
            op, expected = node.op, node.value
            return lambda s: _compare(field(s), op, expected)
        read = _reader(subject)
        if isinstance(node, Present):
            return lambda s: any(_present(value) for value in read(s))
        op, expected = node.op, node.value
        return lambda s: any(_compare(value, op, expected) for value in read(s))
    known = groups or {}
    return lambda s: _Evaluator(s, known).test(node, _trace_scope(s), 0)


def _reader(subject: Field | Annotation) -> Callable[[TraceSummary], list[Any]]:
    """The values of a trace-level subject, as :meth:`_Evaluator._values` lists them."""
    if isinstance(subject, Annotation):
        key = subject.key
        return lambda s: [value for _, value in s.annotations.get(key, {})]
    field = _TRACE_FIELDS.get(subject.name)
    if field is None:
        return lambda s: [None]
    read = field

    def values(s: TraceSummary) -> list[Any]:
        value = read(s)
        return value if isinstance(value, list) else [value]

    return values


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
                refers_to(call.source, node.source)
                and refers_to(call.target, node.target)
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
            if refers_to(visit.service, node.node) and (
                node.block is None or self.test(node.block, _visit_scope(visit), 0)
            ):
                return True
        for call in self.summary.facts.calls:
            target = call.target
            if (
                target.inferred
                and target.type != CLIENT_TYPE
                and refers_to(target, node.node)
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


# Each scope reads a field only when an expression names it: most expressions name one or
# two, and a scope is made for every trace tested (and every visit or call in a block).
_TRACE_FIELDS: dict[str, Callable[[TraceSummary], Any]] = {
    "ok": lambda s: s.ok,
    "error": lambda s: s.has_error,
    "fault": lambda s: s.has_fault,
    "throttle": lambda s: s.root_throttled,
    "partial": lambda s: s.is_partial,
    "inferred": lambda s: s.inferred,
    "responsetime": lambda s: s.response_time,
    "duration": lambda s: s.duration,
    "http.status": lambda s: s.http_status,
    "http.url": lambda s: s.http_url,
    "http.method": lambda s: s.http_method,
    "http.useragent": lambda s: s.http_user_agent,
    "http.clientip": lambda s: s.http_client_ip,
    "user": lambda s: list(s.users) or [None],
    "availabilityzone": lambda s: s.availability_zones or [None],
    "instance.id": lambda s: s.instance_ids or [None],
    "resource.arn": lambda s: s.resource_arns or [None],
    "root": lambda s: any(v.root for v in s.facts.visits),
}

# The trace fields that are never lists.
_SCALAR_TRACE_FIELDS = frozenset(_TRACE_FIELDS) - {
    "user",
    "availabilityzone",
    "instance.id",
    "resource.arn",
}

_VISIT_FIELDS: dict[str, Callable[[Visit], Any]] = {
    "ok": lambda v: v.status is Status.OK,
    "error": lambda v: v.status is Status.ERROR or v.error,
    "fault": lambda v: v.status is Status.FAULT,
    "throttle": lambda v: v.status is Status.THROTTLE or v.throttle,
    "partial": lambda v: v.in_progress,
    "root": lambda v: v.root,
    "responsetime": lambda v: v.response_time,
    "duration": lambda v: v.response_time,
    "http.status": lambda v: v.http_status,
    "http.url": lambda v: v.http_url,
    "http.method": lambda v: v.http_method,
    "http.useragent": lambda v: v.http_user_agent,
    "http.clientip": lambda v: v.http_client_ip,
    "user": lambda v: v.user,
    "name": lambda v: v.service.name,
    "type": lambda v: v.service.type,
    "inferred": lambda v: False,
}

_CALL_FIELDS: dict[str, Callable[[Call], Any]] = {
    "ok": lambda c: c.status is Status.OK,
    "error": lambda c: c.status is Status.ERROR or c.error,
    "fault": lambda c: c.status is Status.FAULT,
    "throttle": lambda c: c.status is Status.THROTTLE or c.throttle,
    "partial": lambda c: c.in_progress,
    "root": lambda c: False,
    "responsetime": lambda c: c.response_time,
    "duration": lambda c: c.response_time,
    "http.status": lambda c: c.http_status,
    "http.url": lambda c: c.http_url,
    "http.method": lambda c: c.http_method,
    "name": lambda c: c.target.name,
    "type": lambda c: c.target.type,
    "inferred": lambda c: c.target.inferred,
}


def _trace_scope(s: TraceSummary) -> _Scope:
    def scope(name: str) -> Any:
        field = _TRACE_FIELDS.get(name)
        return None if field is None else field(s)

    return scope


def _visit_scope(v: Visit) -> _Scope:
    def scope(name: str) -> Any:
        field = _VISIT_FIELDS.get(name)
        return None if field is None else field(v)

    return scope


def _call_scope(c: Call) -> _Scope:
    def scope(name: str) -> Any:
        field = _CALL_FIELDS.get(name)
        return None if field is None else field(c)

    return scope


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


def refers_to(service: ServiceId, ref: NodeRef | None) -> bool:
    """Whether ``ref`` (an ``id(...)``, or None for any) names ``service``."""
    if ref is None:
        return True
    return (
        (ref.name is None or ref.name == service.name)
        and (ref.type is None or service.type in node_types(ref.type))
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
