"""Annotations and metadata: where the attributes no block consumed go.

To X-Ray, as the Collector's exporter does (``makeXRayAttributes`` in ``segment.go``):

- an attribute named in ``indexed_attributes`` or in the span's ``aws.xray.annotations``
  (an array of strings) becomes an annotation if its value is a string (up to 1,000 characters),
  an integer, a finite double or a boolean; its key keeps ``[A-Za-z0-9_]`` and has every other
  character replaced by ``_`` (the exporter keeps dots behind a feature gate; X-Ray's filter
  language and Fluoroscope's validator do not take them), cut to 500 characters. X-Ray indexes at
  most 50 annotations per trace; a document here carries at most
  :data:`MAX_ANNOTATIONS_PER_DOCUMENT`, in attribute order, and the rest stay metadata. An
  attribute that cannot be an annotation (wrong type, a key already taken, over the limit) is
  never dropped: it stays an ordinary attribute;
- an attribute ``aws.xray.metadata.<namespace>`` holding a JSON object becomes
  ``metadata.<namespace>`` (merged into ``default`` for ``default``);
- every other attribute that no block consumed and that plain JSON can hold goes to
  ``metadata.default`` under its own key. ``metadata.otel`` is Fluoroscope's (``_otel``); an
  attribute that would overwrite it stays an ordinary attribute.

From X-Ray: each annotation becomes an attribute (under its original key when ``metadata.otel``
records one) and ``aws.xray.annotations`` lists them, as the Collector's receiver does;
``metadata.default`` keys become attributes; other namespaces become ``aws.xray.metadata.<ns>``
attributes holding their JSON.
"""

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from fluoroscope.model.segment import MAX_ANNOTATION_KEY_LENGTH, MAX_ANNOTATION_VALUE_LENGTH
from fluoroscope.translate.otlp._values import (
    MAX_VALUE_DEPTH,
    Value,
    from_plain,
    nested_deeper_than,
    strings,
    to_plain,
)

MAX_ANNOTATIONS_PER_DOCUMENT = 50
ANNOTATIONS = "aws.xray.annotations"
METADATA_PREFIX = "aws.xray.metadata."
DEFAULT_NAMESPACE = "default"
OTEL_NAMESPACE = "otel"

_NOT_KEY_CHAR = re.compile(r"[^A-Za-z0-9_]")


def annotation_key(key: str) -> str:
    """An attribute key as X-Ray lets an annotation key be (may be empty)."""
    return _NOT_KEY_CHAR.sub("_", key)[:MAX_ANNOTATION_KEY_LENGTH]


def annotations(
    attributes: Mapping[str, Value], indexed: frozenset[str]
) -> tuple[dict[str, Any], set[str], dict[str, str]]:
    """The annotations of a span, the attribute keys they took, and their changed keys.

    The last is ``{annotation key: attribute key}`` for annotations whose key had to change.
    """
    wanted = set(indexed)
    listed = strings(attributes, ANNOTATIONS)
    if listed:
        wanted.update(listed)
    out: dict[str, Any] = {}
    taken: set[str] = set()
    renamed: dict[str, str] = {}
    if not wanted:
        return out, taken, renamed
    for key, value in attributes.items():
        if len(out) >= MAX_ANNOTATIONS_PER_DOCUMENT:
            break
        if key not in wanted:
            continue
        plain = _annotation_value(value)
        sanitized = annotation_key(key)
        if plain is None or not sanitized or sanitized in out:
            continue
        out[sanitized] = plain
        taken.add(key)
        if sanitized != key:
            renamed[sanitized] = key
    return out, taken, renamed


def metadata(attributes: Mapping[str, Value], skip: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The ``metadata`` of a span: namespaces from ``aws.xray.metadata.*``, the rest in default."""
    skipped = set(skip)
    namespaces: dict[str, dict[str, Any]] = {}
    default: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in skipped:
            continue
        if key.startswith(METADATA_PREFIX):
            namespace = key[len(METADATA_PREFIX) :]
            content = _json_object(value)
            if content is not None and namespace and namespace != OTEL_NAMESPACE:
                if namespace == DEFAULT_NAMESPACE:
                    default.update(content)
                else:
                    namespaces[namespace] = content
                continue
        ok, plain = to_plain(value)
        if ok:
            default[key] = plain
    if default:
        namespaces = {DEFAULT_NAMESPACE: default, **namespaces}
    return namespaces


def annotations_from_xray(
    annotations: Mapping[str, Any], renamed: Mapping[str, str], attributes: dict[str, Value]
) -> None:
    """Add the attributes a document's annotations stand for, and their list."""
    keys = []
    for key, value in annotations.items():
        original = renamed.get(key, key)
        attributes[original] = from_plain(value)
        keys.append(original)
    if keys:
        attributes[ANNOTATIONS] = from_plain(keys)


def metadata_from_xray(metadata: Mapping[str, Any], attributes: dict[str, Value]) -> None:
    """Add the attributes a document's metadata stands for (all but ``otel``)."""
    for namespace, content in metadata.items():
        if namespace == OTEL_NAMESPACE:
            continue
        if namespace == DEFAULT_NAMESPACE and isinstance(content, dict):
            for key, value in content.items():
                attributes[key] = from_plain(value)
        else:
            attributes[METADATA_PREFIX + namespace] = {
                "stringValue": orjson.dumps(content).decode()
            }


def _annotation_value(value: Value) -> Any:
    if "stringValue" in value:
        text = value["stringValue"]
        return text if len(text) <= MAX_ANNOTATION_VALUE_LENGTH else None
    if "boolValue" in value:
        return value["boolValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        number = value["doubleValue"]
        return number if isinstance(number, float) and math.isfinite(number) else None
    return None


def _json_object(value: Value) -> dict[str, Any] | None:
    text = value.get("stringValue")
    if not isinstance(text, str):
        return None
    try:
        content = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    # Deeper than that, it stays the string it came as: a document must be writable as JSON
    # (orjson stops at 254 levels), and forwardable as OTLP.
    if not isinstance(content, dict) or nested_deeper_than(content, MAX_VALUE_DEPTH):
        return None
    return content
