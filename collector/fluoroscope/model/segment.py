"""The typed view of X-Ray segment documents, decoded straight from JSON.

:class:`Segment` mirrors the segment document (xray-protocol.md section 4): the JSON decoder
builds it directly and checks every type and length declared here, in C; the validator in
``translate/xray_json.py`` checks the rest. Fields Fluoroscope does not read are not declared,
so the decoder skips them. A :class:`Document` is what the collector holds: the bytes as
received (so that what was received is what is stored and returned) and the few fields that
assembling reads; views are decoded where traces are summarised.

Views are msgspec Structs created untracked by the cyclic garbage collector (``gc=False``): a
view never refers back to anything that refers to it, so it can never be part of a reference
cycle.
"""

from typing import Annotated, Any, Literal

import msgspec

MAX_NAME_LENGTH = 200
# X-Ray allows up to 500 characters for an annotation key and 1,000 for a string value.
MAX_ANNOTATION_KEY_LENGTH = 500
MAX_ANNOTATION_VALUE_LENGTH = 1000

# Lengths are checked by the decoder, in C. The formats (hex digits; the trace id's layout) are
# checked by the validator (translate/xray_json.py): a decoder-side pattern calls Python's re
# for every id, which costs more than the check.
Id = Annotated[str, msgspec.Meta(min_length=16, max_length=16)]
TraceId = Annotated[str, msgspec.Meta(min_length=35, max_length=35)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
# Epoch seconds; the upper bound (year 33658) only keeps out overflowing nonsense.
Time = Annotated[float, msgspec.Meta(gt=0, lt=1e12)]
# Stored in an SQLite INTEGER column, so within 64 bits signed (the decoder takes up to 2**64-1).
HttpStatus = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
AnnotationValue = str | int | float | bool


class HttpRequest(msgspec.Struct, gc=False):
    """``http.request``."""

    method: str | None = None
    url: str | None = None
    user_agent: str | None = None
    client_ip: str | None = None
    # On a subsegment: the callee is instrumented and will send a segment of its own.
    traced: bool = False


class HttpResponse(msgspec.Struct, gc=False):
    """``http.response``."""

    status: HttpStatus | None = None


class Http(msgspec.Struct, gc=False):
    """``http``."""

    request: HttpRequest | None = None
    response: HttpResponse | None = None


class Ec2(msgspec.Struct, gc=False):
    """``aws.ec2``."""

    instance_id: str | None = None
    availability_zone: str | None = None


class Aws(msgspec.Struct, gc=False):
    """``aws``: the fields that name accounts, hosts, and the resources a call touched."""

    account_id: str | None = None
    ec2: Ec2 | None = None
    operation: str | None = None
    table_name: str | None = None
    queue_url: str | None = None
    topic_arn: str | None = None
    function_name: str | None = None
    bucket_name: str | None = None
    stream_name: str | None = None


class Sql(msgspec.Struct, gc=False):
    """``sql``."""

    url: str | None = None


class ExceptionInfo(msgspec.Struct, gc=False):
    """One entry of ``cause.exceptions``."""

    id: str | None = None
    type: str | None = None
    message: str | None = None
    remote: bool = False
    # The id of the exception this one stands for, described elsewhere in the trace (the Java
    # SDK's entry for an exception a subsegment recorded). Any JSON: only a string is used.
    cause: Any = None


class Cause(msgspec.Struct, gc=False):
    """``cause`` given as an object (it may also be the id of an exception recorded elsewhere)."""

    exceptions: list[ExceptionInfo] = []


class Segment(msgspec.Struct, gc=False):
    """A segment or subsegment document, or a subsegment embedded in one.

    ``end_time`` is set unless ``in_progress`` is true (checked after decoding). ``trace_id``
    is required on top-level documents and is kept lowercase there.
    """

    id: Id
    name: Name
    start_time: Time
    end_time: Time | None = None
    in_progress: bool = False
    trace_id: TraceId | None = None
    parent_id: Id | None = None
    type: Literal["subsegment"] | None = None
    namespace: str | None = None
    origin: str | None = None
    user: str | None = None
    resource_arn: str | None = None
    fault: bool = False
    error: bool = False
    throttle: bool = False
    http: Http | None = None
    aws: Aws | None = None
    sql: Sql | None = None
    # Any entries: X-Ray keeps a document whose annotations it cannot index and drops those
    # silently (its own API Gateway and Lambda segments carry ``aws:`` keys), so only the
    # summary tells them apart (fluoroscope.model.summary.indexable).
    annotations: dict[str, Any] | None = None
    # An exception id is 16 characters (the developer guide); SDKs write hex digits, but the
    # id only refers to an exception elsewhere in the trace, so any 16 characters do.
    cause: Cause | Id | None = None
    subsegments: list["Segment"] = []
    # Set by X-Ray (and BatchGetTraces here) on the segments it makes for downstream calls.
    inferred: bool = False

    @property
    def independent(self) -> bool:
        """Whether this top-level document is a subsegment sent on its own."""
        return self.type == "subsegment"

    @property
    def status(self) -> int | None:
        """The HTTP response status, if any."""
        http = self.http
        if http is None or http.response is None:
            return None
        return http.response.status

    @property
    def end(self) -> float:
        """When this entity ended, or (in progress) the latest moment known: its start."""
        return self.end_time if self.end_time is not None else self.start_time

    def walk(self) -> "list[Segment]":
        """This entity and every subsegment embedded in it, depth first."""
        out = [self]
        stack = list(reversed(self.subsegments))
        while stack:
            entity = stack.pop()
            out.append(entity)
            stack.extend(reversed(entity.subsegments))
        return out


class Document(msgspec.Struct, gc=False):
    """A top-level document: its bytes as received, and what assembling it needs.

    The view is not kept: :meth:`view` decodes it again where the trace is summarised, on a
    helper process in the main. A collector holds hundreds of thousands of documents, and
    their views (about 36 objects and 2.2 KB for a 900-byte document) cost the pipeline thread
    more to encode for the helpers and to free, cold, when their trace is forgotten, than
    decoding them again costs the helpers; the bytes alone take less than half the memory.
    """

    raw: bytes
    id: str
    # Always present and lowercase on a document.
    trace_id: str
    parent_id: str | None
    # A subsegment sent on its own (``"type": "subsegment"``).
    independent: bool
    in_progress: bool
    # Whether the sender marked it sampled (OTLP's W3C flag); X-Ray documents carry no mark.
    sampled: bool = False

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return len(self.raw)

    def view(self) -> Segment:
        """Its view, decoded again from its bytes (which were validated when it was parsed)."""
        return view_of(self.raw)


_decode_view = msgspec.json.Decoder(Segment).decode


def view_of(raw: bytes) -> Segment:
    """The view of one document the validator accepted, as the validator left it: the trace
    id lowercase, and no end time on an entity in progress."""
    segment = _decode_view(raw)
    trace_id = segment.trace_id
    if trace_id is not None and not trace_id.islower():
        segment.trace_id = trace_id.lower()
    _open_in_progress(segment)
    return segment


def _open_in_progress(entity: Segment) -> None:
    """No end time on an entity in progress, here and below (the validator bounds the depth)."""
    if entity.in_progress:
        entity.end_time = None
    for child in entity.subsegments:
        _open_in_progress(child)


def document_of(segment: Segment, raw: bytes) -> Document:
    """The document of a validated top-level view."""
    trace_id = segment.trace_id
    assert trace_id is not None  # checked by the validator
    return Document(
        raw,
        segment.id,
        trace_id,
        segment.parent_id,
        segment.type == "subsegment",
        segment.in_progress,
    )
