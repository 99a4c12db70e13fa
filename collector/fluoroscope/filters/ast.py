"""The syntax tree of an X-Ray filter expression (xray-protocol.md 8.3-8.5).

Nodes are frozen dataclasses, so trees compare by value and can be used as keys. Keyword
names are canonical lowercase (``responsetime``, ``http.url``); comparison operators are
``= != < <= > >= contains beginswith endswith``.
"""

import json
from dataclasses import dataclass
from typing import Literal

# Keyword -> (kind, scopes where it may appear). Scopes: "trace" (the top level), "service"
# and "edge" (inside their blocks), "rc.service", "rc.entity", "rc.exception" (root-cause
# blocks).
_BLOCKS = ("service", "edge")
_ROOT_CAUSES = ("rc.service", "rc.entity", "rc.exception")
KEYWORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ok": ("bool", ("trace", *_BLOCKS)),
    "error": ("bool", ("trace", *_BLOCKS)),
    "throttle": ("bool", ("trace", *_BLOCKS)),
    "fault": ("bool", ("trace", *_BLOCKS)),
    "partial": ("bool", ("trace", *_BLOCKS)),
    "inferred": ("bool", ("trace", "rc.service", "rc.entity")),
    "root": ("bool", ("service",)),
    "first": ("bool", _ROOT_CAUSES),
    "last": ("bool", _ROOT_CAUSES),
    "remote": ("bool", ("rc.entity", "rc.exception")),
    "responsetime": ("number", ("trace", *_BLOCKS)),
    "duration": ("number", ("trace", *_BLOCKS)),
    "http.status": ("number", ("trace", *_BLOCKS)),
    "index": ("number", _ROOT_CAUSES),
    "coverage": ("number", ("rc.entity",)),
    "http.url": ("string", ("trace", *_BLOCKS)),
    "http.method": ("string", ("trace", *_BLOCKS)),
    "http.useragent": ("string", ("trace", "service")),
    "http.clientip": ("string", ("trace", "service")),
    "user": ("string", ("trace", "service")),
    "name": ("string", _ROOT_CAUSES),
    "type": ("string", ("rc.service", "rc.entity")),
    "message": ("string", ("rc.exception",)),
    "availabilityzone": ("string", ("trace",)),
    "instance.id": ("string", ("trace",)),
    "resource.arn": ("string", ("trace",)),
}

Value = str | float | bool


@dataclass(frozen=True, slots=True)
class Field:
    """A simple keyword."""

    name: str


@dataclass(frozen=True, slots=True)
class Annotation:
    """``annotation.KEY``."""

    key: str


@dataclass(frozen=True, slots=True)
class Compare:
    """``subject op value``."""

    subject: Field | Annotation
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class Present:
    """A bare keyword or annotation: true (booleans) or set (strings, annotations)."""

    subject: Field | Annotation


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node: ``"name"`` or ``id(name: ..., type: ..., account.id: ...)``."""

    name: str | None = None
    type: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """``service([node]) [{ block }]``."""

    node: "NodeRef | None"
    block: "Node | None"


@dataclass(frozen=True, slots=True)
class Edge:
    """``edge(source, target) [{ block }]``."""

    source: NodeRef
    target: NodeRef
    block: "Node | None"


@dataclass(frozen=True, slots=True)
class Group:
    """``group.name = "..."`` or ``group.arn != "..."``."""

    attribute: Literal["name", "arn"]
    op: Literal["=", "!="]
    value: str


@dataclass(frozen=True, slots=True)
class RootCause:
    """``rootcause.<kind>.<level> { block }``."""

    kind: Literal["fault", "error", "responsetime"]
    level: Literal["service", "entity", "exception"]
    block: "Node"


@dataclass(frozen=True, slots=True)
class RootCauseJson:
    """``rootcause.json = #[ ... ]``: ``values`` are the parsed JSON; ``text`` their source."""

    values: tuple[object, ...]
    text: tuple[str, ...]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RootCauseJson) and self.values == other.values

    def __hash__(self) -> int:
        return hash(json.dumps(self.values, sort_keys=True))


@dataclass(frozen=True, slots=True)
class And:
    """Both."""

    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Or:
    """Either."""

    left: "Node"
    right: "Node"


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand``."""

    operand: "Node"


Node = And | Or | Not | Compare | Present | Service | Edge | Group | RootCause | RootCauseJson
