"""Filter expressions to SQL conditions on the ``traces`` table.

The SQL narrows the candidates through the indexes (annotations, services per trace, trace
columns); the in-memory evaluator (:mod:`fluoroscope.filters.evaluate`) then confirms each
candidate, so a condition here only has to be a superset of the matches. ``exact`` marks a
condition that is not a superset but the very set, which ``!`` needs to stay correct. Values
always travel as parameters; only column names chosen here appear in the SQL text.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fluoroscope.filters.ast import (
    And,
    Annotation,
    Compare,
    Field,
    Group,
    Node,
    Not,
    Or,
    Present,
    Service,
)
from fluoroscope.model.services import node_types
from fluoroscope.model.summary import typed_value
from fluoroscope.store.types import SERVICE_FLAGS

# Trace-level keywords stored as columns of ``traces``.
_COLUMNS = {
    "responsetime": "response_time",
    "duration": "duration",
    "http.status": "http_status",
    "http.url": "http_url",
    "http.method": "http_method",
    "http.useragent": "http_useragent",
    "http.clientip": "http_clientip",
}
_FLAGS = {
    "fault": "has_fault",
    "error": "has_error",
    "partial": "is_partial",
    "inferred": "inferred",
}
# Keywords no column holds exactly, by a condition on the columns that selects a superset of
# their traces, and one that selects a superset of the others (for ``!`` and ``= false``):
# - throttle is the entry segment's (a 429, or its flag), has_throttle any segment's;
# - ok also needs the entry segment not throttled, which has_throttle false assures.
_OK = (
    "NOT (has_fault OR has_error) AND response_time IS NOT NULL "
    "AND (http_status IS NULL OR http_status BETWEEN 200 AND 299)"
)
_SUPERSETS = {
    "throttle": ("has_throttle", "NOT coalesce(http_status = 429, 0)"),
    "ok": (_OK, f"NOT (({_OK}) AND NOT has_throttle)"),
}
# The trace_services.flags bits a bare keyword in a service() block tests.
_BLOCK_BITS = {key: SERVICE_FLAGS[key] for key in ("fault", "error", "throttle", "ok", "root")}
_COMPARISONS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
MAX_GROUP_DEPTH = 8


@dataclass(slots=True)
class Condition:
    """A parameterised SQL condition, and whether it selects exactly the matches."""

    sql: str
    params: list[object] = field(default_factory=list)
    exact: bool = True
    # For a condition that is not exact, one that still selects a superset of the traces it
    # does not match, so that ``!`` can narrow too (None: ``!`` of it selects nothing less).
    negated: "Condition | None" = None


# Counts how many annotation rows a condition selects, up to a cap (see _annotation).
Estimate = Callable[[str, list[object], int], int]
# Above this many matching annotation rows, a value is common: walking the traces newest first
# and checking each against the index finds a page sooner than listing every match.
COMMON_VALUE_ROWS = 2_000


def compile_filter(
    node: Node,
    groups: Mapping[str, Node | None] | None = None,
    estimate: Estimate | None = None,
) -> Condition | None:
    """The narrowest condition this module can build for ``node`` (None: no restriction).

    ``estimate`` lets the plan depend on how common an annotation value is; without it every
    annotation condition lists its matches.
    """
    return _Compiler(groups or {}, estimate).compile(node, 0)


class _Compiler:
    def __init__(self, groups: Mapping[str, Node | None], estimate: Estimate | None) -> None:
        self.groups = groups
        self.estimate = estimate

    def compile(self, node: Node, depth: int) -> Condition | None:
        return _compile(node, self, depth)


def _compile(node: Node, compiler: _Compiler, depth: int) -> Condition | None:
    groups = compiler.groups
    if isinstance(node, And):
        left = _compile(node.left, compiler, depth)
        right = _compile(node.right, compiler, depth)
        if left is None or right is None:
            kept = left or right
            return Condition(kept.sql, kept.params, exact=False) if kept else None
        return Condition(
            f"({left.sql}) AND ({right.sql})",
            left.params + right.params,
            left.exact and right.exact,
        )
    if isinstance(node, Or):
        left = _compile(node.left, compiler, depth)
        right = _compile(node.right, compiler, depth)
        if left is None or right is None:
            return None
        exact = left.exact and right.exact
        return Condition(f"({left.sql}) OR ({right.sql})", left.params + right.params, exact)
    if isinstance(node, Not):
        inner = _compile(node.operand, compiler, depth)
        if inner is None or not inner.exact:
            return inner.negated if inner is not None else None
        # A comparison with a column a trace lacks is NULL, not false: NOT must make it true,
        # as the evaluator does, or the trace would match neither X nor !X.
        return Condition(f"NOT coalesce(({inner.sql}), 0)", inner.params)
    if isinstance(node, Present):
        return _present(node.subject)
    if isinstance(node, Compare):
        return _compare(node, compiler.estimate)
    if isinstance(node, Service):
        return _service(node)
    if isinstance(node, Group):
        if node.op != "=" or depth >= MAX_GROUP_DEPTH or node.value not in groups:
            return None
        expression = groups[node.value]
        return None if expression is None else _compile(expression, compiler, depth + 1)
    return None  # edges, root causes and any-segment strings are checked in memory only


def _present(subject: Field | Annotation) -> Condition | None:
    if isinstance(subject, Annotation):
        # A boolean annotation is its value; any other is true when set.
        return Condition(
            "rowid IN (SELECT trace_rowid FROM annotations"
            " WHERE key = ? AND NOT (vtype = 'b' AND value = 0))",
            [subject.key],
        )
    if subject.name in _FLAGS:
        return Condition(_FLAGS[subject.name])
    if subject.name in _SUPERSETS:
        return _superset(subject.name, True)
    if subject.name in _COLUMNS:
        return Condition(f"{_COLUMNS[subject.name]} IS NOT NULL")
    return None


def _compare(node: Compare, estimate: Estimate | None) -> Condition | None:
    subject, op, value = node.subject, node.op, node.value
    if isinstance(subject, Annotation):
        tag, typed = typed_value(value)
        test, params = _test("value", op, typed)
        where = f"key = ? AND vtype = ? AND {test}"
        arguments = [subject.key, tag, *params]
        if estimate is not None and estimate(where, arguments, COMMON_VALUE_ROWS) >= (
            COMMON_VALUE_ROWS
        ):
            # Common: check traces as the time index yields them, one index probe each.
            return Condition(
                f"EXISTS (SELECT 1 FROM annotations WHERE {where} AND trace_rowid = traces.rowid)",
                arguments,
            )
        # Rare: list the few matching traces and let the time index order them.
        return Condition(f"rowid IN (SELECT trace_rowid FROM annotations WHERE {where})", arguments)
    if subject.name in _FLAGS and isinstance(value, bool) and op in ("=", "!="):
        truth = value if op == "=" else not value
        return Condition(_FLAGS[subject.name] if truth else f"NOT {_FLAGS[subject.name]}")
    if subject.name in _SUPERSETS and isinstance(value, bool) and op in ("=", "!="):
        return _superset(subject.name, value if op == "=" else not value)
    if subject.name in _COLUMNS and not isinstance(value, bool):
        test, params = _test(_COLUMNS[subject.name], op, value)
        return Condition(test, params)
    return None


def _superset(keyword: str, truth: bool) -> Condition:
    """The superset condition of a keyword that holds (or fails), with its negation's."""
    holds, fails = _SUPERSETS[keyword]
    if not truth:
        holds, fails = fails, holds
    return Condition(holds, exact=False, negated=Condition(fails, exact=False))


def _test(column: str, op: str, value: object) -> tuple[str, list[object]]:
    if op == "contains":
        return f"instr({column}, ?) > 0", [value]
    if op == "beginswith":
        return f"substr({column}, 1, length(?)) = ?", [value, value]
    if op == "endswith":
        return (
            f"({column} IS NOT NULL AND (length(?) = 0 OR substr({column}, -length(?)) = ?))",
            [value, value, value],
        )
    return f"{column} {_COMPARISONS[op]} ?", [value]


def _service(node: Service) -> Condition:
    conditions = []
    params: list[object] = []
    if node.node is not None:
        for column, value in (("name", node.node.name), ("account", node.node.account_id)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        if node.node.type is not None:
            types = node_types(node.node.type)
            conditions.append(f"type IN ({', '.join('?' * len(types))})")
            params.extend(types)
    exact = node.block is None
    if isinstance(node.block, Present) and isinstance(node.block.subject, Field):
        bit = _BLOCK_BITS.get(node.block.subject.name)
        if bit is not None:
            conditions.append(f"flags & {bit}")
            exact = True
    where = " AND ".join(conditions) if conditions else "1"
    return Condition(
        f"rowid IN (SELECT trace_rowid FROM trace_services WHERE {where})", params, exact
    )
