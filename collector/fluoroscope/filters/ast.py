"""The syntax tree of an X-Ray filter expression (xray-protocol.md 8.3-8.5).

Nodes are frozen dataclasses, so trees compare by value and can be used as keys. Keyword
names are canonical lowercase (``responsetime``, ``http.url``); comparison operators are
``= != < <= > >= contains beginswith endswith``. :data:`KEYWORDS` says what each simple
keyword holds and in which scopes it may appear; the parser enforces it, so every tree
:func:`~fluoroscope.filters.parse` returns respects it.
"""

import json
from dataclasses import dataclass
from typing import Literal, NamedTuple

Kind = Literal["bool", "number", "string"]
Value = str | float | bool

EQUALITY_OPS = ("=", "!=")
ORDER_OPS = ("<", "<=", ">", ">=")
STRING_OPS = ("contains", "beginswith", "endswith")

# The root-cause blocks: fault and error root causes list exceptions, response-time ones do
# not (xray-protocol.md 8.2), so there is no rootcause.responsetime.exception.
ROOT_CAUSE_BLOCKS: tuple[tuple[str, str], ...] = (
    ("fault", "service"),
    ("fault", "entity"),
    ("fault", "exception"),
    ("error", "service"),
    ("error", "entity"),
    ("error", "exception"),
    ("responsetime", "service"),
    ("responsetime", "entity"),
)

# Scopes: "trace" (the top level), "service" and "edge" (inside their blocks), and one per
# root-cause block, spelled as in the expression ("rootcause.fault.entity").
SCOPES: tuple[str, ...] = (
    "trace",
    "service",
    "edge",
    *(f"rootcause.{kind}.{level}" for kind, level in ROOT_CAUSE_BLOCKS),
)


class Keyword(NamedTuple):
    """What a simple keyword holds, and the scopes in which it may appear."""

    kind: Kind
    scopes: frozenset[str]


def _root_causes(
    *levels: str, kinds: tuple[str, ...] = ("fault", "error", "responsetime")
) -> set[str]:
    return {
        f"rootcause.{k}.{level}" for k, level in ROOT_CAUSE_BLOCKS if level in levels and k in kinds
    }


def _keyword(kind: Kind, *scopes: str | set[str]) -> Keyword:
    names: set[str] = set()
    for scope in scopes:
        names |= {scope} if isinstance(scope, str) else scope
    return Keyword(kind, frozenset(names))


_ANY_ROOT_CAUSE = _root_causes("service", "entity", "exception")

# xray-protocol.md 8.3. Status keywords describe a segment or call, so they apply at the top
# level and inside service() and edge() blocks; request details an edge's calling subsegment
# does not carry (user agent, client IP, user) stay out of edge blocks; the root-cause list
# keywords (index, first, last, ...) exist only inside root-cause blocks; coverage is only
# reported for response-time entities and exception messages only for exceptions.
KEYWORDS: dict[str, Keyword] = {
    "ok": _keyword("bool", "trace", "service", "edge"),
    "error": _keyword("bool", "trace", "service", "edge"),
    "throttle": _keyword("bool", "trace", "service", "edge"),
    "fault": _keyword("bool", "trace", "service", "edge"),
    "partial": _keyword("bool", "trace", "service", "edge"),
    "inferred": _keyword("bool", "trace", _root_causes("service", "entity")),
    "root": _keyword("bool", "service"),
    "first": _keyword("bool", _ANY_ROOT_CAUSE),
    "last": _keyword("bool", _ANY_ROOT_CAUSE),
    "remote": _keyword("bool", _root_causes("entity", "exception")),
    "responsetime": _keyword("number", "trace", "service", "edge"),
    "duration": _keyword("number", "trace", "service", "edge"),
    "http.status": _keyword("number", "trace", "service", "edge"),
    "index": _keyword("number", _ANY_ROOT_CAUSE),
    "coverage": _keyword("number", _root_causes("entity", kinds=("responsetime",))),
    "http.url": _keyword("string", "trace", "service", "edge"),
    "http.method": _keyword("string", "trace", "service", "edge"),
    "http.useragent": _keyword("string", "trace", "service"),
    "http.clientip": _keyword("string", "trace", "service"),
    "user": _keyword("string", "trace", "service"),
    "name": _keyword("string", _ANY_ROOT_CAUSE),
    "type": _keyword("string", _root_causes("service", "entity")),
    "message": _keyword("string", _root_causes("exception")),
    "availabilityzone": _keyword("string", "trace"),
    "instance.id": _keyword("string", "trace"),
    "resource.arn": _keyword("string", "trace"),
}


@dataclass(frozen=True, slots=True)
class Field:
    """A simple keyword, by its canonical lowercase name (a key of :data:`KEYWORDS`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Annotation:
    """``annotation.KEY``: the annotation ``key``, case kept."""

    key: str


@dataclass(frozen=True, slots=True)
class Compare:
    """``subject op value``: a keyword or annotation compared with a literal.

    Equality tells booleans from numbers (``annotation.x = true`` is not
    ``annotation.x = 1``), which Python's ``True == 1`` would otherwise blur.
    """

    subject: Field | Annotation
    op: str
    value: Value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compare) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (self.subject, self.op, isinstance(self.value, bool), self.value)


@dataclass(frozen=True, slots=True)
class Present:
    """A bare keyword or annotation: true (booleans) or set (strings, annotations)."""

    subject: Field | Annotation


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A service graph node: ``"name"``, or ``id(...)`` with any non-empty subset of fields."""

    name: str | None = None
    type: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """``service([node]) [{ block }]``: some node (any node when ``node`` is None) matches."""

    node: "NodeRef | None"
    block: "Node | None"


@dataclass(frozen=True, slots=True)
class Edge:
    """``edge(source, target) [{ block }]``: some call from source to target matches."""

    source: NodeRef
    target: NodeRef
    block: "Node | None"


@dataclass(frozen=True, slots=True)
class Group:
    """``group.name = "..."`` or ``group.arn != "..."``: the trace matches a group's filter."""

    attribute: Literal["name", "arn"]
    op: Literal["=", "!="]
    value: str


@dataclass(frozen=True, slots=True)
class RootCause:
    """``rootcause.<kind>.<level> { block }``: some element of that root-cause list matches."""

    kind: Literal["fault", "error", "responsetime"]
    level: Literal["service", "entity", "exception"]
    block: "Node"


@dataclass(frozen=True, slots=True)
class RootCauseJson:
    """``rootcause.json = #[ ... ]``: JSON fragments a root cause must contain.

    ``values`` are parsed JSON values (dicts, lists, str, int, float, bool, None). Two nodes
    are equal when their values have the same canonical JSON text, so key order does not
    matter and ``true`` stays distinct from ``1``; that text is also what the node hashes.
    """

    values: tuple[object, ...]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RootCauseJson) and self.canonical == other.canonical

    def __hash__(self) -> int:
        return hash(self.canonical)

    @property
    def canonical(self) -> str:
        """The values as one JSON list with sorted keys."""
        return json.dumps(list(self.values), sort_keys=True)


@dataclass(frozen=True, slots=True)
class And:
    """``left AND right`` (also written by juxtaposition: ``left right``)."""

    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Or:
    """``left OR right``."""

    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand`` (also written ``NOT operand``)."""

    operand: "Node"


Node = And | Or | Not | Compare | Present | Service | Edge | Group | RootCause | RootCauseJson
