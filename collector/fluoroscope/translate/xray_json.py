"""X-Ray segment documents (JSON) to validated :class:`Segment` views.

Validation follows what the X-Ray service enforces (xray-protocol.md section 4): required fields,
id and trace id formats, times, ``in_progress``, ``cause`` as an object or an exception id,
annotation keys and value types, the 64 KiB document limit and a bound on subsegment nesting.
The trace id's epoch part is never checked: W3C-born ids carry a random one.

Refusals raise :class:`DocumentError` whose ``code`` is the ``ErrorCode`` that
``UnprocessedTraceSegments`` carries. ``MissingId``, ``InvalidTraceId`` and ``InvalidName`` are
codes the X-Ray service is known to use; the others are Fluoroscope's, named in the same style.
"""

import math
import re
from typing import Any

import orjson

from fluoroscope.errors import DocumentError
from fluoroscope.model.ids import is_entity_id, is_trace_id
from fluoroscope.model.segment import AnnotationValue, ExceptionInfo, Segment

# "Segment documents can be up to 64 kB in size" (X-Ray developer guide); read as 64 KiB.
MAX_DOCUMENT_BYTES = 64 * 1024
# X-Ray publishes no nesting bound; real SDK trees are a handful of levels deep. The bound keeps
# hostile input from costing unbounded work in every later stage.
MAX_SUBSEGMENT_DEPTH = 64
MAX_NAME_LENGTH = 200
# X-Ray allows up to 500 characters for an annotation key and 1,000 for a string value.
MAX_ANNOTATION_KEY_LENGTH = 500
MAX_ANNOTATION_VALUE_LENGTH = 1000

# Names allow Unicode letters and digits, whitespace and _ . : / % & # = + \ - @ (developer
# guide); the comma is allowed too, as the OpenTelemetry X-Ray exporter allows it.
_BAD_NAME_CHAR = re.compile(r"[^\w\s.:/%&#=+\\\-@,]")
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]+")
_NO_ANNOTATIONS: dict[str, AnnotationValue] = {}


def parse_document(data: bytes) -> list[Segment]:
    """Validate one document and return its top-level view(s).

    A document is a segment, an independent subsegment, or a JSON array of independent
    subsegments (the PutTraceSegments model allows the array form). Raises
    :class:`DocumentError` for anything X-Ray would refuse.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            "DocumentTooLarge",
            f"document is {len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES}",
            _sniff_id(data),
        )
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError("JSONFormatError", f"not valid JSON: {exc}", _sniff_id(data)) from None
    if isinstance(document, dict):
        return [view_of(document, data)]
    if isinstance(document, list):
        if not document:
            raise DocumentError("MissingId", "an empty array holds no subsegment")
        views = []
        for item in document:
            if not isinstance(item, dict):
                raise DocumentError("InvalidSegment", "array items must be subsegment objects")
            view = view_of(item, orjson.dumps(item))
            if not view.independent:
                raise DocumentError(
                    "InvalidSegment",
                    'array items must be independent subsegments (type "subsegment")',
                    view.id,
                )
            views.append(view)
        return views
    raise DocumentError("InvalidSegment", "a document must be a JSON object or array")


def view_of(document: dict[str, Any], raw: bytes) -> Segment:
    """Validate a decoded top-level document and build its view; ``raw`` is kept as sent."""
    doc_id = document.get("id")
    try:
        trace_id = document.get("trace_id")
        if trace_id is None:
            raise DocumentError("MissingTraceId", "trace_id is required")
        if type(trace_id) is not str or not is_trace_id(trace_id):
            raise DocumentError(
                "InvalidTraceId",
                f"trace_id {_show(trace_id)} is not of the form 1-<8 hex>-<24 hex>",
            )
        kind = document.get("type")
        independent = kind == "subsegment"
        if kind is not None and not independent:
            raise DocumentError("InvalidSegment", f'type must be "subsegment", not {_show(kind)}')
        view = _entity(document, trace_id.lower(), independent, 0)
        if independent and view.parent_id is None:
            raise DocumentError("MissingParentId", "an independent subsegment needs parent_id")
    except DocumentError as exc:
        if exc.doc_id is None and type(doc_id) is str:
            exc.doc_id = doc_id
        raise
    view.independent = independent
    view.raw = raw
    view.size = len(raw)
    return view


def _entity(doc: dict[str, Any], trace_id: str, is_subsegment: bool, depth: int) -> Segment:
    get = doc.get
    entity_id = get("id")
    if type(entity_id) is not str:
        if entity_id is None:
            raise DocumentError("MissingId", "id is required")
        raise DocumentError("InvalidId", f"id {_show(entity_id)} must be a string")
    if not is_entity_id(entity_id):
        raise DocumentError("InvalidId", f"id {_show(entity_id)} is not 16 hex digits")
    name = get("name")
    if type(name) is not str:
        raise DocumentError("MissingName" if name is None else "InvalidName", "name is required")
    if not name or len(name) > MAX_NAME_LENGTH or _BAD_NAME_CHAR.search(name):
        raise DocumentError(
            "InvalidName",
            f"name {_show(name)} must be 1-{MAX_NAME_LENGTH} letters, digits, whitespace "
            "or _ . : / % & # = + \\ - @ ,",
        )
    start = get("start_time")
    if start is None:
        raise DocumentError("MissingStartTime", "start_time is required")
    if not _is_time(start):
        raise DocumentError(
            "InvalidStartTime", f"start_time {_show(start)} is not epoch seconds"
        )
    in_progress = get("in_progress", False)
    if type(in_progress) is not bool:
        raise DocumentError("InvalidSegment", "in_progress must be true or false")
    end = None if in_progress else get("end_time")
    if not in_progress:
        if end is None:
            raise DocumentError(
                "MissingEndTime", "end_time is required unless in_progress is true"
            )
        if not _is_time(end):
            raise DocumentError("InvalidEndTime", f"end_time {_show(end)} is not epoch seconds")
        if end < start:
            raise DocumentError("InvalidEndTime", "end_time is before start_time")
    parent_id = get("parent_id")
    if parent_id is not None and (type(parent_id) is not str or not is_entity_id(parent_id)):
        raise DocumentError("InvalidParentId", f"parent_id {_show(parent_id)} is not 16 hex digits")
    view = Segment(
        id=entity_id,
        name=name,
        trace_id=trace_id,
        start_time=float(start),
        end_time=None if end is None else float(end),
        in_progress=in_progress,
        parent_id=parent_id,
        is_subsegment=is_subsegment,
    )
    for flag in ("fault", "error", "throttle"):
        value = get(flag)
        if value is not None:
            if type(value) is not bool:
                raise DocumentError("InvalidSegment", f"{flag} must be true or false")
            if value:
                setattr(view, flag, True)
    namespace = get("namespace")
    if namespace is not None:
        view.namespace = _optional_str(namespace, "namespace")
    if not is_subsegment:
        view.origin = _optional_str(get("origin"), "origin")
        view.user = _optional_str(get("user"), "user")
        view.resource_arn = _optional_str(get("resource_arn"), "resource_arn")
    http = get("http")
    if http is not None:
        _read_http(http, view)
    annotations = get("annotations")
    if annotations is not None:
        view.annotations = _read_annotations(annotations)
    metadata = get("metadata")
    if metadata is not None and type(metadata) is not dict:
        raise DocumentError("InvalidSegment", "metadata must be an object")
    aws = get("aws")
    if aws is not None:
        _read_aws(aws, view)
    sql = get("sql")
    if sql is not None:
        if type(sql) is not dict:
            raise DocumentError("InvalidSegment", "sql must be an object")
        url = sql.get("url")
        view.sql_url = url if type(url) is str else ""
    cause = get("cause")
    if cause is not None:
        _read_cause(cause, view)
    children = get("subsegments")
    if children is not None:
        if type(children) is not list:
            raise DocumentError("InvalidSegment", "subsegments must be an array")
        if children:
            if depth >= MAX_SUBSEGMENT_DEPTH:
                raise DocumentError(
                    "NestingTooDeep",
                    f"subsegments are nested more than {MAX_SUBSEGMENT_DEPTH} levels deep",
                )
            subsegments = []
            for child in children:
                if type(child) is not dict:
                    raise DocumentError("InvalidSegment", "subsegments must hold objects")
                subsegments.append(_entity(child, trace_id, True, depth + 1))
            view.subsegments = tuple(subsegments)
    return view


def _is_time(value: object) -> bool:
    return (type(value) is float or type(value) is int) and math.isfinite(value) and value > 0  # type: ignore[arg-type, operator]


def _optional_str(value: object, field: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise DocumentError("InvalidSegment", f"{field} must be a string")


def _read_http(http: object, view: Segment) -> None:
    if type(http) is not dict:
        raise DocumentError("InvalidSegment", "http must be an object")
    request = http.get("request")
    if type(request) is dict:
        view.http_method = _str_or_none(request.get("method"))
        view.http_url = _str_or_none(request.get("url"))
        view.http_user_agent = _str_or_none(request.get("user_agent"))
        view.http_client_ip = _str_or_none(request.get("client_ip"))
        view.http_traced = request.get("traced") is True
    response = http.get("response")
    if type(response) is dict:
        status = response.get("status")
        if type(status) is int:
            view.http_status = status


def _read_annotations(annotations: object) -> dict[str, AnnotationValue]:
    if type(annotations) is not dict:
        raise DocumentError("InvalidAnnotation", "annotations must be an object")
    if not annotations:
        return _NO_ANNOTATIONS
    for key, value in annotations.items():
        if len(key) > MAX_ANNOTATION_KEY_LENGTH or not _ANNOTATION_KEY.fullmatch(key):
            raise DocumentError(
                "InvalidAnnotation",
                f"annotation key {_show(key)} must be 1-{MAX_ANNOTATION_KEY_LENGTH} "
                "characters of A-Z a-z 0-9 _",
            )
        kind = type(value)
        if kind is str:
            if len(value) > MAX_ANNOTATION_VALUE_LENGTH:
                raise DocumentError(
                    "InvalidAnnotation",
                    f"annotation {key} is longer than {MAX_ANNOTATION_VALUE_LENGTH} characters",
                )
        elif kind is float:
            if not math.isfinite(value):
                raise DocumentError("InvalidAnnotation", f"annotation {key} is not finite")
        elif kind is not int and kind is not bool:
            raise DocumentError(
                "InvalidAnnotation",
                f"annotation {key} must be a string, number or boolean",
            )
    return annotations


def _read_aws(aws: object, view: Segment) -> None:
    if type(aws) is not dict:
        raise DocumentError("InvalidSegment", "aws must be an object")
    view.account_id = _str_or_none(aws.get("account_id"))
    if view.is_subsegment:
        view.aws = aws
        return
    ec2 = aws.get("ec2")
    if type(ec2) is dict:
        view.instance_id = _str_or_none(ec2.get("instance_id"))
        view.availability_zone = _str_or_none(ec2.get("availability_zone"))


def _read_cause(cause: object, view: Segment) -> None:
    if type(cause) is str:
        if not is_entity_id(cause):
            raise DocumentError(
                "InvalidCause", "a cause given as a string must be a 16-hex exception id"
            )
        view.cause_id = cause
        return
    if type(cause) is not dict:
        raise DocumentError("InvalidCause", "cause must be an object or an exception id")
    exceptions = cause.get("exceptions")
    if exceptions is None:
        return
    if type(exceptions) is not list:
        raise DocumentError("InvalidCause", "cause.exceptions must be an array")
    infos = []
    for item in exceptions:
        if type(item) is not dict:
            raise DocumentError("InvalidCause", "cause.exceptions must hold objects")
        infos.append(
            ExceptionInfo(
                id=_str_or_none(item.get("id")),
                type=_str_or_none(item.get("type")),
                message=_str_or_none(item.get("message")),
                remote=item.get("remote") is True,
            )
        )
    view.exceptions = tuple(infos)


def _str_or_none(value: object) -> str | None:
    return value if type(value) is str else None


def _show(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_ID_IN_JSON = re.compile(rb'"id"\s*:\s*"([0-9a-fA-F]{16})"')


def _sniff_id(data: bytes) -> str | None:
    """The document's id found by pattern, as the X-Ray daemon does, when it cannot be parsed."""
    match = _ID_IN_JSON.search(data, 0, 4096)
    return match.group(1).decode() if match else None
