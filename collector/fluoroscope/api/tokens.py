"""Opaque pagination tokens.

A token names where the previous page stopped and a fingerprint of the query it belongs to, so
a token cannot be replayed against another query. Cursors only move backward in time, so a
client that follows NextToken always reaches the end.
"""

import base64
import hashlib
from typing import Any

import orjson

from fluoroscope.errors import ApiError


def fingerprint(*parts: object) -> str:
    """A short stable digest of the query members a token is bound to."""
    return hashlib.blake2b(orjson.dumps(parts), digest_size=8).hexdigest()


def encode(query: str, position: dict[str, Any]) -> str:
    """A NextToken for ``position`` within the query with fingerprint ``query``."""
    payload = orjson.dumps({"v": 1, "q": query, "p": position})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode(token: str, query: str) -> dict[str, Any]:
    """The position a NextToken names; InvalidRequestException if it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise ValueError
        position = payload["p"]
        if not isinstance(position, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ApiError("NextToken is not valid") from None
    if payload.get("q") != query:
        raise ApiError("NextToken belongs to a different query")
    return position


def offset(position: dict[str, Any]) -> int:
    """The list offset a decoded position names (``after``); InvalidRequestException unless it
    is a whole number from 0 up, as the tokens this module writes hold."""
    value = position.get("after", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ApiError("NextToken is not valid")
    return value
