"""botocore's rest-json conventions: reading request members and writing responses and errors.

Every operation is a POST of a JSON object to a fixed path; timestamps are epoch seconds.
botocore checks only required members, types and minimums before sending, so every maximum is
enforced here. Errors carry ``x-amzn-ErrorType`` and ``__type`` (botocore reads either) and are
4xx, because botocore retries 5xx and would resend bad input.
"""

import json
import math
import uuid
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from fluoroscope.errors import ApiError
from fluoroscope.model.times import epoch_seconds

# botocore's TraceId shape: at most 35 characters (the X-Ray form; the W3C form is 32).
MAX_TRACE_ID_LENGTH = 35


def json_response(body: object | bytes, status: int = 200) -> web.Response:
    """A JSON response with the request id header botocore reports as ``RequestId``."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(
        body=data,
        status=status,
        content_type="application/json",
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def error_response(error: ApiError) -> web.Response:
    """The X-Ray error shape for ``error``."""
    response = json_response({"__type": error.code, "Message": error.message}, error.status)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is an empty object, as botocore sends ``{}``."""
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(f"the request body is too large: {exc.text}") from None
    except RequestPayloadError as exc:  # a body whose Content-Encoding does not decode
        raise ApiError(f"the request body cannot be decoded: {exc}") from None
    if not data.strip():
        return {}
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses lone surrogates ("\ud800") anywhere; the standard parser takes them,
        # so that one bad document is refused on its own rather than the whole request.
        try:
            body = json.loads(data)
        except ValueError:
            raise ApiError("the request body is not valid JSON") from None
        except RecursionError:  # nested past the interpreter's recursion limit
            raise ApiError("the request body is nested too deeply") from None
        if isinstance(body, dict):
            try:
                _refuse_lone_surrogates(body)
            except RecursionError:  # the parser's limit is the interpreter's, less its stack
                raise ApiError("the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object")
    return body


# Members whose strings are checked one by one further on (each document refused on its own).
_CHECKED_LATER = frozenset({"TraceSegmentDocuments"})


def _refuse_lone_surrogates(value: object, name: str = "the request") -> None:
    """Refuse text that is not Unicode (a lone surrogate such as "\ud800", which JSON's escapes
    can spell): it cannot be stored, indexed, or written back as JSON or UTF-8."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ApiError(f"{name} holds text that is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_lone_surrogates(key, name)
            if key not in _CHECKED_LATER:
                _refuse_lone_surrogates(item, key)
    elif isinstance(value, list):
        for item in value:
            _refuse_lone_surrogates(item, name)


def timestamp(body: dict[str, Any], name: str, *, required: bool = True) -> float | None:
    """An epoch-seconds member (ISO 8601 strings are accepted too)."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(f"{name} is required")
        return None
    try:
        return epoch_seconds(value)
    except ValueError as exc:
        raise ApiError(f"{name} {exc}") from None


def required_timestamp(body: dict[str, Any], name: str) -> float:
    """A required epoch-seconds member."""
    value = timestamp(body, name)
    if value is None:  # pragma: no cover - timestamp() raises for a missing required member
        raise ApiError(f"{name} is required")
    return value


def string(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    min_length: int = 0,
    max_length: int | None = None,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    """A string member, checked against its model limits."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(f"{name} must be a string")
    if len(value) < min_length:
        raise ApiError(f"{name} must be at least {min_length} characters")
    if max_length is not None and len(value) > max_length:
        raise ApiError(f"{name} must be at most {max_length} characters")
    if choices is not None and value not in choices:
        raise ApiError(f"{name} must be one of {', '.join(choices)}")
    return value


def boolean(body: dict[str, Any], name: str) -> bool | None:
    """An optional boolean member."""
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise ApiError(f"{name} must be true or false")


def number(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> float | None:
    """A numeric member within its model limits."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(f"{name} must be a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer past a double's range
        finite = False
    if not finite:
        raise ApiError(f"{name} must be a finite number")
    if integer and not isinstance(value, int):
        raise ApiError(f"{name} must be an integer")
    if low is not None and value < low:
        raise ApiError(f"{name} must be at least {low:g}")
    if high is not None and value > high:
        raise ApiError(f"{name} must be at most {high:g}")
    return float(value)


def string_list(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    min_items: int = 0,
    max_items: int | None = None,
    max_length: int | None = None,
) -> list[str]:
    """A list-of-strings member; ``max_length`` bounds each string."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(f"{name} is required")
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(f"{name} must be a list of strings")
    if len(value) < min_items:
        raise ApiError(f"{name} must have at least {min_items} item(s)")
    if max_items is not None and len(value) > max_items:
        raise ApiError(f"{name} must have at most {max_items} items")
    if max_length is not None and any(len(item) > max_length for item in value):
        raise ApiError(f"{name}: each must be at most {max_length} characters")
    return value


def structure(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """An optional nested structure."""
    value = body.get(name)
    if value is None or isinstance(value, dict):
        return value
    raise ApiError(f"{name} must be an object")
