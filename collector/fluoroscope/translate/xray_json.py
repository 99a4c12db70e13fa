"""Validating X-Ray segment documents (JSON) into what the collector holds (:class:`Document`).

Validation follows what the X-Ray service enforces (xray-protocol.md section 4): required fields,
id and trace id formats, times, ``in_progress``, ``cause`` as an object or an exception id,
``annotations`` as an object, the 64 KiB document limit and a bound on subsegment nesting. An
annotation X-Ray cannot index (a key outside ``[A-Za-z0-9_]``, a value neither a short string,
a number nor a boolean) does not cost its document, as it does not at X-Ray: it is stored as
sent and left out of the index (:func:`fluoroscope.model.summary.indexable`).
The trace id's epoch part is never checked: W3C-born ids carry a random one. The decoder checks
the types and formats that :class:`Segment` declares; this module checks the rest.

Refusals raise :class:`DocumentError` whose ``code`` is the ``ErrorCode`` that
``UnprocessedTraceSegments`` carries. ``MissingId``, ``InvalidTraceId`` and ``InvalidName`` are
codes the X-Ray service is known to use; the others are Fluoroscope's, named in the same style.
"""

import re
import string
from collections.abc import Callable
from typing import TypeVar

import msgspec

from fluoroscope.errors import DocumentError
from fluoroscope.model.ids import NOOP_TRACE_ID
from fluoroscope.model.segment import MAX_NAME_LENGTH, Document, Segment, document_of

_T = TypeVar("_T")

__all__ = ["MAX_DOCUMENT_BYTES", "MAX_SUBSEGMENT_DEPTH", "parse_document", "parse_views"]

# "Segment documents can be up to 64 kB in size" (X-Ray developer guide); read as 64 KiB.
MAX_DOCUMENT_BYTES = 64 * 1024
# X-Ray publishes no nesting bound; real SDK trees are a handful of levels deep. The bound keeps
# hostile input from costing unbounded work in every later stage.
MAX_SUBSEGMENT_DEPTH = 64

# Names allow Unicode letters and digits, whitespace and _ . : / % & # = + \ - @ (developer
# guide); the comma is allowed too, as the OpenTelemetry X-Ray exporter allows it.
_BAD_NAME_CHAR = re.compile(r"[^\w\s.:/%&#=+\\\-@,]")
# Names that passed validation. They repeat across documents, so checking one is usually a
# set lookup. Bounded: cleared when full, which only costs re-checking.
_CACHE_LIMIT = 10_000
_valid_names: set[str] = set()
# Ids are 16 hex digits (their length is checked by the decoder).
_HEX = frozenset(string.hexdigits)
_TRACE_ID = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}").fullmatch

_decode_document = msgspec.json.Decoder(Segment | list[msgspec.Raw]).decode
_decode_segment = msgspec.json.Decoder(Segment).decode

# The field a decoder complaint is about -> (code when missing, code when invalid).
_FIELD_CODES = {
    "id": ("MissingId", "InvalidId"),
    "name": ("MissingName", "InvalidName"),
    "trace_id": ("MissingTraceId", "InvalidTraceId"),
    "start_time": ("MissingStartTime", "InvalidStartTime"),
    "end_time": ("MissingEndTime", "InvalidEndTime"),
    "parent_id": ("MissingParentId", "InvalidParentId"),
    "annotations": ("InvalidAnnotation", "InvalidAnnotation"),
    "cause": ("InvalidCause", "InvalidCause"),
}
_MISSING_FIELD = re.compile(r"missing required field `([a-z_]+)`")
_PATH_FIELD = re.compile(r"\.([a-z_]+)")
_ID_IN_JSON = re.compile(rb'"id"\s*:\s*"([0-9a-fA-F]{16})"')


def parse_document(data: bytes) -> list[Document]:
    """Validate one document and return its top-level document(s), each with its bytes.

    A document is a segment, an independent subsegment, or a JSON array of independent
    subsegments (the PutTraceSegments model allows the array form). Raises
    :class:`DocumentError` for anything X-Ray would refuse.

    An inferred segment (``"inferred": true``, as BatchGetTraces returns them) is valid and
    yields nothing: the call it stands for makes it again, so a trace copied back through
    PutTraceSegments reads back as it was, rather than with a segment for each call.
    """
    return [document_of(segment, raw) for segment, raw in _parse(data) if not segment.inferred]


def parse_views(data: bytes) -> list[Segment]:
    """Validate one document as :func:`parse_document` does, and return its top-level views."""
    return [segment for segment, _ in _parse(data)]


def _parse(data: bytes) -> list[tuple[Segment, bytes]]:
    """The validated top-level views of a document, each with its bytes."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            "DocumentTooLarge",
            f"document is {len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES}",
            _sniff_id(data),
        )
    if not data.isascii():
        # JSON text is UTF-8, and the store keeps documents as text; the decoder checks only
        # the strings it reads, not those inside fields it skips (metadata, say).
        try:
            data.decode()
        except UnicodeDecodeError as exc:
            raise DocumentError(
                "JSONFormatError",
                f"not valid JSON: not UTF-8 at byte {exc.start} ({exc.reason})",
                _sniff_id(data),
            ) from None
    decoded = _decode(_decode_document, data)
    if isinstance(decoded, Segment):
        return [(_validated(decoded, data), data)]
    if not decoded:
        raise DocumentError("MissingId", "an empty array holds no subsegment")
    parsed = []
    for item in decoded:
        raw = bytes(item)
        segment = _validated(_decode(_decode_segment, raw), raw)
        if not segment.independent:
            raise DocumentError(
                "InvalidSegment",
                'array items must be independent subsegments (type "subsegment")',
                segment.id,
            )
        parsed.append((segment, raw))
    return parsed


def _decode(decode: Callable[[bytes], _T], data: bytes) -> _T:
    try:
        return decode(data)
    except msgspec.ValidationError as exc:
        raise _refusal(str(exc), data) from None
    except msgspec.DecodeError as exc:
        raise DocumentError("JSONFormatError", f"not valid JSON: {exc}", _sniff_id(data)) from None
    except RecursionError:
        raise DocumentError(
            "NestingTooDeep",
            f"subsegments are nested more than {MAX_SUBSEGMENT_DEPTH} levels deep",
            _sniff_id(data),
        ) from None


def _refusal(message: str, data: bytes) -> DocumentError:
    """Name the X-Ray error code for a decoder complaint."""
    missing = _MISSING_FIELD.search(message)
    if missing is not None:
        codes = _FIELD_CODES.get(missing.group(1))
        code = codes[0] if codes is not None else "InvalidSegment"
    else:
        code = "InvalidSegment"
        path = message.rpartition("`$")[2]
        for field in _PATH_FIELD.findall(path)[::-1]:
            if field in _FIELD_CODES:
                code = _FIELD_CODES[field][1]
                break
    return DocumentError(code, message, _sniff_id(data))


def _validated(segment: Segment, raw: bytes) -> Segment:
    """Check what the schema cannot say about a top-level view (which it leaves as the
    collector reads it: see :func:`fluoroscope.model.segment.view_of`)."""
    try:
        trace_id = segment.trace_id
        if trace_id is None:
            raise DocumentError("MissingTraceId", "trace_id is required")
        if _TRACE_ID(trace_id) is None:
            raise DocumentError(
                "InvalidTraceId", f"trace_id {trace_id!r} is not 1-<8 hex>-<24 hex>"
            )
        if not trace_id.islower():
            trace_id = segment.trace_id = trace_id.lower()
        if trace_id == NOOP_TRACE_ID or trace_id.endswith("0" * 24):
            raise DocumentError(
                "InvalidTraceId", "the all-zero trace id marks an unsampled request"
            )
        if segment.type is not None and segment.parent_id is None:
            raise DocumentError("MissingParentId", "an independent subsegment needs parent_id")
        _check(segment, 0)
        if segment.subsegments:
            _check_unique_ids(segment)
    except DocumentError as exc:
        exc.doc_id = segment.id if _HEX.issuperset(segment.id) else _sniff_id(raw)
        raise
    return segment


def _check(entity: Segment, depth: int) -> None:
    if not _HEX.issuperset(entity.id):
        raise DocumentError("InvalidId", f"id {entity.id!r} must be 16 hexadecimal digits")
    parent_id = entity.parent_id
    if parent_id is not None and not _HEX.issuperset(parent_id):
        raise DocumentError(
            "InvalidParentId", f"parent_id {parent_id!r} must be 16 hexadecimal digits"
        )
    if parent_id == entity.id:
        raise DocumentError("InvalidParentId", "parent_id is the entity's own id")
    if depth and entity.trace_id is not None and _TRACE_ID(entity.trace_id) is None:
        raise DocumentError("InvalidTraceId", "a subsegment's trace_id is not 1-<8 hex>-<24 hex>")
    name = entity.name
    if name not in _valid_names:
        _check_name(name)
    if entity.in_progress:
        entity.end_time = None
    else:
        end = entity.end_time
        if end is None:
            raise DocumentError("MissingEndTime", "end_time is required unless in_progress is true")
        if end < entity.start_time:
            raise DocumentError("InvalidEndTime", "end_time is before start_time")
    children = entity.subsegments
    if children:
        if depth >= MAX_SUBSEGMENT_DEPTH:
            raise DocumentError(
                "NestingTooDeep",
                f"subsegments are nested more than {MAX_SUBSEGMENT_DEPTH} levels deep",
            )
        for child in children:
            _check(child, depth + 1)


def _check_unique_ids(segment: Segment) -> None:
    """Ids are unique within a trace (an entity is found, replaced and folded by its id), so
    within one document above all."""
    seen: set[str] = set()
    waiting = [segment]
    while waiting:
        entity = waiting.pop()
        if entity.id in seen:
            raise DocumentError("DuplicateId", f"id {entity.id} appears twice in the document")
        seen.add(entity.id)
        if entity.subsegments:
            waiting += entity.subsegments


def _check_name(name: str) -> None:
    if _BAD_NAME_CHAR.search(name):
        raise DocumentError(
            "InvalidName",
            f"name {name[:60]!r} must be 1-{MAX_NAME_LENGTH} letters, digits, whitespace "
            "or _ . : / % & # = + \\ - @ ,",
        )
    if len(_valid_names) >= _CACHE_LIMIT:
        _valid_names.clear()
    _valid_names.add(name)


def _sniff_id(data: bytes) -> str | None:
    """The document's id found by pattern, as the X-Ray daemon does, when it cannot be parsed."""
    match = _ID_IN_JSON.search(data, 0, 4096)
    return match.group(1).decode() if match else None
