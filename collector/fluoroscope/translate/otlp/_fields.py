"""X-Ray fields with no OpenTelemetry convention, carried as ``aws.xray.<field path>`` attributes.

Going to OTLP, a document field that no semantic convention covers (``precursor_ids``,
``cause.working_directory``, ``sql.database_version``, an ECS block, a field of a future SDK)
becomes a span attribute named after its path: ``aws.xray.cause.working_directory``,
``aws.xray.aws.ecs``. Coming back, such an attribute sets exactly that field, over anything
derived from other attributes: it was either written here or set on purpose by someone who knows
X-Ray. The paths the Collector's X-Ray receiver already names keep its names
(``aws.xray.x_forwarded_for``, ``aws.xray.traced``, ``aws.xray.retries``).

An attribute cannot set the fields that make a document what it is (ids, name, times, type,
subsegments, annotations, metadata), nor a field with a value of a type the segment model would
refuse; such an attribute stays an ordinary attribute.
"""

import functools
import types
from typing import Any, Union, get_args, get_origin

import msgspec

from fluoroscope.model.segment import Segment

PREFIX = "aws.xray."

# Names under the prefix that mean something else than a field path.
RESERVED = frozenset({"annotations", "inprogress"})
RESERVED_PREFIXES = ("metadata.", "exception.")

_ALIASES = {
    ("http", "request", "x_forwarded_for"): "aws.xray.x_forwarded_for",
    ("http", "request", "traced"): "aws.xray.traced",
    ("aws", "retries"): "aws.xray.retries",
}
_ALIASED = {name: path for path, name in _ALIASES.items()}
# Objects whose fields are addressed one by one, longest first so that "aws.xray.sdk" is found
# inside aws.xray rather than as a field "xray.sdk" of aws.
_CONTAINERS = (
    ("http", "request"),
    ("http", "response"),
    ("aws", "xray"),
    ("aws", "ec2"),
    ("http",),
    ("aws",),
    ("sql",),
    ("cause",),
    ("service",),
)
PROTECTED = frozenset(
    {
        "id",
        "name",
        "trace_id",
        "parent_id",
        "type",
        "start_time",
        "end_time",
        "in_progress",
        "subsegments",
        "annotations",
        "metadata",
    }
)


def attribute_name(path: tuple[str, ...]) -> str:
    """The attribute that carries the field at ``path``."""
    return _ALIASES.get(path) or PREFIX + ".".join(path)


def field_path(key: str) -> tuple[str, ...] | None:
    """The field an attribute key addresses, or None if it addresses none."""
    aliased = _ALIASED.get(key)
    if aliased is not None:
        return aliased
    if not key.startswith(PREFIX):
        return None
    rest = key[len(PREFIX) :]
    if not rest or rest in RESERVED or rest.startswith(RESERVED_PREFIXES):
        return None
    for container in _CONTAINERS:
        dotted = ".".join(container) + "."
        if rest.startswith(dotted) and len(rest) > len(dotted):
            return (*container, rest[len(dotted) :])
    return (rest,)


def place(document: dict[str, Any], path: tuple[str, ...], value: Any) -> bool:
    """Set the field at ``path`` to ``value`` if the segment model allows it there."""
    if path[0] in PROTECTED or not _allowed(path, value):
        return False
    target = document
    for step in path[:-1]:
        inner = target.get(step)
        if inner is None:
            inner = target[step] = {}
        elif not isinstance(inner, dict):
            return False
        target = inner
    target[path[-1]] = value
    return True


def _allowed(path: tuple[str, ...], value: Any) -> bool:
    expected = _field_type(path)
    if expected is None:
        return True
    try:
        msgspec.convert(value, expected)
    except msgspec.ValidationError:
        return False
    return True


@functools.cache
def _field_type(path: tuple[str, ...]) -> Any:
    """The type the segment model declares at ``path``, or None where it declares none."""
    current: Any = Segment
    for step in path:
        struct = _struct_in(current)
        if struct is None:
            return None
        fields = {info.name: info.type for info in msgspec.structs.fields(struct)}
        if step not in fields:
            return None
        current = fields[step]
    return current


def _struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    """The Struct type in a (possibly optional or union) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for member in get_args(annotation):
            struct = _struct_in(member)
            if struct is not None:
                return struct
    return None
