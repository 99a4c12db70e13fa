"""Attribute values as OTLP/JSON, and as the plain JSON that X-Ray documents hold.

Inside this package an OTLP ``AnyValue`` is held in its OTLP/JSON encoding (``{"stringValue":
"x"}``, ``{"intValue": "3"}``, ``{"doubleValue": 0.5}``, ...; OTLP specification, "JSON Protobuf
Encoding"). That form is what ``metadata.otel`` stores, it is plain JSON, and it compares by type
as well as by value: ``{"intValue": "1"}``, ``{"boolValue": true}`` and ``{"doubleValue": 1.0}``
are three different values, where Python's ``1 == True == 1.0`` would call them equal.

A *plain* value is what an X-Ray document holds for the same thing (``"x"``, ``3``, ``0.5``,
lists, objects, ``null`` for an empty value). Bytes, non-finite doubles and key-value lists with
repeated keys have no faithful plain form; :func:`to_plain` says so rather than guess.
"""

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

_T = TypeVar("_T")

Value = dict[str, Any]
"""One ``AnyValue`` in OTLP/JSON form."""

Attributes = dict[str, Value]
"""Attributes by key, in the order they came in; a repeated key keeps its last value."""

# Objects and lists nested deeper than this are carried as JSON text instead. Each level costs an
# OTLP receiver three protobuf message levels, and receivers refuse a whole request past their
# recursion limit (protobuf's default is 100, under which about 30 levels fit beside the
# request's own); orjson writes at most 254 levels.
MAX_VALUE_DEPTH = 16

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def from_proto(value: AnyValue) -> Value:
    """The OTLP/JSON form of a protobuf ``AnyValue``."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "int_value":
        # int64 travels as a decimal string in OTLP/JSON (proto3 JSON mapping).
        return {"intValue": str(value.int_value)}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "double_value":
        return {"doubleValue": _double(value.double_value)}
    if which == "array_value":
        return {"arrayValue": {"values": [from_proto(item) for item in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": key_values_from_proto(value.kvlist_value.values)}}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    if which == "string_value_strindex":
        return {"stringValueStrindex": value.string_value_strindex}
    return {}


def fill_proto(out: AnyValue, value: Mapping[str, Any]) -> None:
    """Set a protobuf ``AnyValue`` from its OTLP/JSON form; raises ValueError on a malformed one."""
    if "stringValue" in value:
        out.string_value = _typed(value["stringValue"], str)
    elif "intValue" in value:
        out.int_value = _int64(value["intValue"])
    elif "boolValue" in value:
        out.bool_value = _typed(value["boolValue"], bool)
    elif "doubleValue" in value:
        out.double_value = _from_double(value["doubleValue"])
    elif "arrayValue" in value:
        array = out.array_value
        array.SetInParent()  # an empty array is still an array, not an empty value
        for item in _typed(value["arrayValue"], dict).get("values", []):
            fill_proto(array.values.add(), _typed(item, dict))
    elif "kvlistValue" in value:
        kvlist = out.kvlist_value
        kvlist.SetInParent()
        fill_key_values(kvlist.values.add, _typed(value["kvlistValue"], dict).get("values", []))
    elif "bytesValue" in value:
        out.bytes_value = base64.b64decode(_typed(value["bytesValue"], str), validate=True)
    elif "stringValueStrindex" in value:
        out.string_value_strindex = _typed(value["stringValueStrindex"], int)


def is_value(value: Mapping[str, Any]) -> bool:
    """Whether an OTLP/JSON value is one :func:`fill_proto` takes."""
    try:
        fill_proto(AnyValue(), value)
    except (ValueError, TypeError, KeyError):
        return False
    return True


def key_values_from_proto(items: Iterable[KeyValue]) -> list[dict[str, Any]]:
    """A repeated ``KeyValue`` in OTLP/JSON form: a list of ``{"key", "value"}`` objects."""
    return [{"key": item.key, "value": from_proto(item.value)} for item in items]


def attributes_from_proto(items: Iterable[KeyValue]) -> Attributes:
    """A repeated ``KeyValue`` as attributes by key."""
    return {item.key: from_proto(item.value) for item in items}


def key_values(attributes: Mapping[str, Value]) -> list[dict[str, Any]]:
    """Attributes by key in OTLP/JSON list form."""
    return [{"key": key, "value": value} for key, value in attributes.items()]


def attributes_from_key_values(items: Iterable[Mapping[str, Any]]) -> Attributes:
    """OTLP/JSON list form to attributes by key."""
    return {_typed(item["key"], str): _typed(item.get("value", {}), dict) for item in items}


def fill_key_values(add: Callable[[], KeyValue], items: Iterable[Mapping[str, Any]]) -> None:
    """Append OTLP/JSON ``{"key", "value"}`` objects through a repeated ``KeyValue``'s ``add``."""
    for item in items:
        entry = add()
        entry.key = _typed(item["key"], str)
        fill_proto(entry.value, _typed(item.get("value", {}), dict))


def to_plain(value: Value) -> tuple[bool, Any]:
    """``(True, plain)`` when the value has a faithful plain JSON form, else ``(False, None)``."""
    if "stringValue" in value:
        return True, value["stringValue"]
    if "boolValue" in value:
        return True, value["boolValue"]
    if "intValue" in value:
        return True, int(value["intValue"])
    if "doubleValue" in value:
        number = value["doubleValue"]
        return (True, float(number)) if isinstance(number, int | float) else (False, None)
    if "arrayValue" in value:
        items = []
        for item in value["arrayValue"].get("values", []):
            ok, plain = to_plain(item)
            if not ok:
                return False, None
            items.append(plain)
        return True, items
    if "kvlistValue" in value:
        mapping: dict[str, Any] = {}
        for item in value["kvlistValue"].get("values", []):
            ok, plain = to_plain(item.get("value", {}))
            if not ok or item["key"] in mapping:
                return False, None
            mapping[item["key"]] = plain
        return True, mapping
    if value:
        return False, None  # bytes and dictionary references have no JSON equivalent
    return True, None


def from_plain(plain: Any, depth: int = 0) -> Value:
    """The OTLP/JSON form of a plain JSON value (objects become key-value lists; below
    :data:`MAX_VALUE_DEPTH` levels, objects and lists become their JSON text)."""
    if plain is None:
        return {}
    if isinstance(plain, bool):
        return {"boolValue": plain}
    if isinstance(plain, int):
        if _INT64_MIN <= plain <= _INT64_MAX:
            return {"intValue": str(plain)}
        # JSON allows integers an int64 cannot hold: as a double, or past that as their digits.
        try:
            return {"doubleValue": _double(float(plain))}
        except OverflowError:
            return {"stringValue": str(plain)}
    if isinstance(plain, float):
        return {"doubleValue": _double(plain)}
    if isinstance(plain, str):
        return {"stringValue": plain}
    if isinstance(plain, (list, dict)) and depth >= MAX_VALUE_DEPTH:
        # The standard library's encoder: it nests as deep as the interpreter does.
        return {"stringValue": json.dumps(plain, ensure_ascii=False, separators=(",", ":"))}
    if isinstance(plain, list):
        return {"arrayValue": {"values": [from_plain(item, depth + 1) for item in plain]}}
    if isinstance(plain, dict):
        return {
            "kvlistValue": {
                "values": [
                    {"key": key, "value": from_plain(item, depth + 1)}
                    for key, item in plain.items()
                ]
            }
        }
    raise TypeError(f"not a JSON value: {type(plain).__name__}")


def string(attributes: Mapping[str, Value], key: str) -> str | None:
    """The attribute's value if it is a string."""
    value = attributes.get(key)
    if value is None:
        return None
    text = value.get("stringValue")
    return text if isinstance(text, str) else None


def integer(attributes: Mapping[str, Value], key: str) -> int | None:
    """The attribute's value if it is an integer."""
    value = attributes.get(key)
    if value is None or "intValue" not in value:
        return None
    return int(value["intValue"])


def boolean(attributes: Mapping[str, Value], key: str) -> bool | None:
    """The attribute's value if it is a boolean."""
    value = attributes.get(key)
    if value is None:
        return None
    flag = value.get("boolValue")
    return flag if isinstance(flag, bool) else None


def strings(attributes: Mapping[str, Value], key: str) -> list[str] | None:
    """The attribute's value if it is an array of strings."""
    value = attributes.get(key)
    if value is None or "arrayValue" not in value:
        return None
    out = []
    for item in value["arrayValue"].get("values", []):
        text = item.get("stringValue")
        if not isinstance(text, str):
            return None
        out.append(text)
    return out


def scalar(attributes: Mapping[str, Value], key: str) -> str | int | None:
    """The attribute's value if it is a string or an integer (ports come as either)."""
    text = string(attributes, key)
    return text if text is not None else integer(attributes, key)


def _double(number: float) -> float | str:
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _from_double(number: Any) -> float:
    if isinstance(number, str):
        if number not in _NON_FINITE:
            raise ValueError(f"not a double: {number!r}")
        return _NON_FINITE[number]
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"not a double: {number!r}")
    return float(number)


def _int64(number: Any) -> int:
    if isinstance(number, bool) or not isinstance(number, int | str):
        raise ValueError(f"not an int64: {number!r}")
    parsed = int(number)
    if not _INT64_MIN <= parsed <= _INT64_MAX:
        raise ValueError(f"out of int64 range: {number!r}")
    return parsed


def _typed(value: Any, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def nested_deeper_than(plain: Any, limit: int) -> bool:
    """Whether a plain value holds objects or lists more than ``limit`` levels deep."""
    if isinstance(plain, dict):
        children: Iterable[Any] = plain.values()
    elif isinstance(plain, list):
        children = plain
    else:
        return False
    return limit <= 0 or any(nested_deeper_than(child, limit - 1) for child in children)
