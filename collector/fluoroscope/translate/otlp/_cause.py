"""Errors: span status and exception events against ``fault``/``error``/``throttle`` and ``cause``.

To X-Ray, as the Collector's exporter does (``cause.go``):

- flags: an HTTP status 4xx sets ``error`` (429 also ``throttle``), 5xx sets ``fault``; with no
  HTTP error status, status ERROR sets ``fault``;
- ``cause.exceptions``: one per ``exception`` event (``exception.type``, ``exception.message``,
  frames read from ``exception.stacktrace``, ``_stacks``), plus one per earlier exception of a
  chained stack trace, linked through ``cause``; ``remote`` is true on CLIENT and PRODUCER spans.
  On an AWS SDK span (``rpc.system`` ``aws-api``), each ``HTTP request failure`` event (one per
  failed attempt of a retried call) becomes a remote exception of type ``aws.http.error.event``
  whose message is ``<status>@<epoch seconds>@<aws.http.error_message>``. A span with status
  ERROR and none of these gets one exception holding the status message, or, when that is empty,
  the ``http.status_text`` attribute (which is then consumed).
  Attributes ``aws.xray.exception.<field>`` on the event (the Collector's receiver writes ``id``,
  ``remote``, ``truncated``, ``skipped``, ``cause``) set that field. The exporter draws exception
  ids at random; here an id is derived from the span id and the event's position, so that the
  same span always makes the same document.

From X-Ray: each exception becomes an ``exception`` event at the entity's end, ``stack`` is
written as text when it can be read back exactly (``aws.xray.exception.stack`` otherwise), and
the status is ERROR for a fault or a cause, and for ``error``/``throttle`` except on SERVER spans,
where OpenTelemetry's HTTP conventions leave a client's 4xx unset. When the flags the status and
HTTP status would give back differ from the document's, all three travel as ``aws.xray.fault``,
``aws.xray.error`` and ``aws.xray.throttle`` (``_fields``).
"""

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from fluoroscope.model.segment import ExceptionInfo
from fluoroscope.translate.otlp import _stacks
from fluoroscope.translate.otlp._record import SpanRecord, event_json
from fluoroscope.translate.otlp._values import (
    attributes_from_key_values,
    from_plain,
    scalar,
    string,
    to_plain,
)

EXCEPTION_EVENT = "exception"
AWS_HTTP_FAILURE_EVENT = "HTTP request failure"
AWS_HTTP_FAILURE_TYPE = "aws.http.error.event"
STATUS_TEXT = "http.status_text"
EXCEPTION_PREFIX = "aws.xray.exception."
ERROR = Status.STATUS_CODE_ERROR
UNSET = Status.STATUS_CODE_UNSET
FLAGS = ("fault", "error", "throttle")

_REMOTE_KINDS = (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER)
_TYPED_FIELDS = {info.name: info.type for info in msgspec.structs.fields(ExceptionInfo)}


def flags(status_code: int, http_status: int | None) -> tuple[bool, bool, bool]:
    """``(fault, error, throttle)`` for a span's status code and HTTP response status."""
    if http_status is not None and 400 <= http_status <= 599:
        if http_status >= 500:
            return True, False, False
        return False, True, http_status == 429
    return status_code == ERROR, False, False


def to_xray(
    record: SpanRecord, *, language: str, aws_sdk: bool = False
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``cause`` of a span, or None; and the attributes it consumed."""
    exceptions: list[dict[str, Any]] = []
    remote = record.kind in _REMOTE_KINDS
    for index, event in enumerate(record.events):
        name = event.get("name")
        if name == EXCEPTION_EVENT:
            exceptions.extend(_exceptions(record.span_id, index, event, remote, language))
        elif aws_sdk and name == AWS_HTTP_FAILURE_EVENT:
            failure = _http_failure(record.span_id, index, event)
            if failure is not None:
                exceptions.append(failure)
    consumed: list[str] = []
    if not exceptions and record.status_code == ERROR:
        message = record.status_message
        if not message:
            message = string(record.attributes, STATUS_TEXT) or ""
            if message:
                consumed.append(STATUS_TEXT)
        if message:
            exceptions.append({"id": _exception_id(record.span_id, -1, 0), "message": message})
    return ({"exceptions": exceptions} if exceptions else None), consumed


def from_xray(
    entity: Mapping[str, Any],
    *,
    kind: int,
    time: int,
    language: str,
    http_status: int | None,
    extras: dict[tuple[str, ...], Any],
) -> tuple[int, list[dict[str, Any]]]:
    """The status code and exception events an entity's flags and cause stand for."""
    cause = entity.get("cause")
    events: list[dict[str, Any]] = []
    caused = False
    if isinstance(cause, dict):
        for key, value in cause.items():
            if key == "exceptions" and value and _is_exception_list(value):
                events = [_event(exception, time, language) for exception in value]
                caused = True
            else:
                extras[("cause", key)] = value
    elif cause is not None:
        extras[("cause",)] = cause
        caused = isinstance(cause, str)  # the id of an exception recorded elsewhere
    fault, error, throttle = (entity.get(flag) is True for flag in FLAGS)
    failed = fault or caused or ((error or throttle) and kind != Span.SPAN_KIND_SERVER)
    status = ERROR if failed else UNSET
    if flags(status, http_status) != (fault, error, throttle):
        extras[("fault",)] = fault
        extras[("error",)] = error
        extras[("throttle",)] = throttle
    return status, events


def _exceptions(
    span_id: bytes, index: int, event: Mapping[str, Any], remote: bool, language: str
) -> list[dict[str, Any]]:
    attributes = attributes_from_key_values(event.get("attributes", ()))
    exception: dict[str, Any] = {"id": _exception_id(span_id, index, 0)}
    exception_type = string(attributes, "exception.type")
    if exception_type is not None:
        exception["type"] = exception_type
    message = string(attributes, "exception.message")
    if message is not None:
        exception["message"] = message
    exception["remote"] = remote
    chain: list[dict[str, Any]] = [exception]
    text = string(attributes, "exception.stacktrace")
    if text:
        traced = _stacks.parse(text, language)
        if traced[0].frames:
            exception["stack"] = traced[0].frames
        for position, earlier in enumerate(traced[1:], start=1):
            cause: dict[str, Any] = {"id": _exception_id(span_id, index, position)}
            if earlier.exception_type is not None:
                cause["type"] = earlier.exception_type
            if earlier.message is not None:
                cause["message"] = earlier.message
            cause["remote"] = remote
            if earlier.frames:
                cause["stack"] = earlier.frames
            chain[-1]["cause"] = cause["id"]
            chain.append(cause)
    for key, value in attributes.items():
        if key.startswith(EXCEPTION_PREFIX):
            field = key[len(EXCEPTION_PREFIX) :]
            ok, plain = to_plain(value)
            if ok and field and _allowed(field, plain):
                exception[field] = plain
    return chain


def _http_failure(span_id: bytes, index: int, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """One failed attempt of an AWS SDK call, as the exporter writes it; None without its
    status and message."""
    attributes = attributes_from_key_values(event.get("attributes", ()))
    status = scalar(attributes, "http.response.status_code")
    message = string(attributes, "aws.http.error_message")
    if status is None or message is None:
        return None
    micros = int(event.get("timeUnixNano", 0)) // 1000
    return {
        "id": _exception_id(span_id, index, 0),
        "type": AWS_HTTP_FAILURE_TYPE,
        "remote": True,
        "message": f"{status}@{micros / 1_000_000:.6f}@{message}",
    }


def _event(exception: Mapping[str, Any], time: int, language: str) -> dict[str, Any]:
    attributes = []
    exception_type = exception.get("type")
    message = exception.get("message")
    if isinstance(exception_type, str):
        attributes.append(_kv("exception.type", {"stringValue": exception_type}))
    if isinstance(message, str):
        attributes.append(_kv("exception.message", {"stringValue": message}))
    stack = exception.get("stack")
    text = None
    if isinstance(stack, list):
        text = _stacks.render(
            stack,
            exception_type if isinstance(exception_type, str) else None,
            message if isinstance(message, str) else None,
            language,
        )
    if text is not None:
        attributes.append(_kv("exception.stacktrace", {"stringValue": text}))
    explicit = {
        field: value
        for field, value in exception.items()
        if not (field in ("type", "message") and isinstance(value, str))
        and not (field == "stack" and text is not None)
    }
    # Written whatever the document said, since the span's kind would otherwise decide it.
    explicit.setdefault("remote", False)
    attributes.extend(
        _kv(EXCEPTION_PREFIX + field, from_plain(explicit[field])) for field in sorted(explicit)
    )
    return event_json(time, EXCEPTION_EVENT, attributes)


def _is_exception_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _allowed(field: str, value: Any) -> bool:
    expected = _TYPED_FIELDS.get(field)
    if expected is None:
        return True
    try:
        msgspec.convert(value, expected)
    except msgspec.ValidationError:
        return False
    return True


def _exception_id(span_id: bytes, event: int, position: int) -> str:
    seed = span_id + event.to_bytes(4, "big", signed=True) + position.to_bytes(4, "big")
    return hashlib.blake2b(seed, digest_size=8).hexdigest()


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}
