"""Stored documents' JSON to values and back: orjson, and the standard library where orjson
cannot go.

The validator decodes only the fields it checks and skips the rest (metadata, most blocks), so
a stored document may hold numbers orjson refuses: integers past what a double holds, and
floats that overflow one (``1e400``). They are valid JSON, and X-Ray takes them; whatever reads
stored documents back must read those documents too, rather than lose them. orjson, which reads
them only as doubles, writes no integer past 64 bits either.
"""

import json
import math
from typing import Any

import orjson

# Python converts integers of at most this many digits to and from text (sys.int_info); longer
# ones are read as the infinity their double is.
_MAX_INT_DIGITS = 4_300


def loads(data: bytes | str) -> Any:
    """The value of JSON text; raises ``json.JSONDecodeError`` (orjson's is one) when malformed."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data, parse_int=_integer)  # anything else fails here again


def dumps(value: Any) -> bytes:
    """Compact JSON text for a value read by :func:`loads` (an infinity is written ``null``, as
    orjson writes it)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # integers past 64 bits
        text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)
        return text.encode()


def _integer(text: str) -> int | float:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= _MAX_INT_DIGITS else float(text)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value
