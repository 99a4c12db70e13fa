"""The typed view of one X-Ray segment or subsegment.

A :class:`Segment` carries exactly what the pipeline needs to assemble, summarise and index a
trace; the document itself travels beside it as raw bytes (``raw``) so that what was received is
what is stored and returned. Subsegments embedded in a document are views too, nested in
``subsegments``; an independent subsegment (``type: "subsegment"`` at the top of a document) is a
top-level view with ``independent`` set.
"""

from dataclasses import dataclass, field

AnnotationValue = str | int | float | bool

_NO_ANNOTATIONS: dict[str, AnnotationValue] = {}


@dataclass(slots=True, frozen=True)
class ExceptionInfo:
    """One entry of ``cause.exceptions``: what root-cause analysis reads."""

    id: str | None
    type: str | None
    message: str | None
    remote: bool


@dataclass(slots=True, eq=False)
class Segment:
    """A segment or subsegment, as validated from its document.

    ``end_time`` is None exactly when ``in_progress`` is true. ``raw`` is set only on top-level
    documents and only until they are written to the store.
    """

    id: str
    name: str
    trace_id: str
    start_time: float
    end_time: float | None
    in_progress: bool = False
    parent_id: str | None = None
    # True for a subsegment: embedded, or sent as its own document.
    is_subsegment: bool = False
    # True for a top-level document with ``type: "subsegment"``.
    independent: bool = False
    namespace: str | None = None
    origin: str | None = None
    user: str | None = None
    resource_arn: str | None = None
    fault: bool = False
    error: bool = False
    throttle: bool = False
    http_method: str | None = None
    http_url: str | None = None
    http_user_agent: str | None = None
    http_client_ip: str | None = None
    http_status: int | None = None
    http_traced: bool = False
    annotations: dict[str, AnnotationValue] = field(default_factory=lambda: _NO_ANNOTATIONS)
    account_id: str | None = None
    instance_id: str | None = None
    availability_zone: str | None = None
    # The subsegment's ``aws`` block, kept for naming inferred nodes (table_name, operation, ...).
    aws: dict[str, object] | None = None
    # The subsegment's SQL ``url`` or the HTTP host, kept for naming remote nodes.
    sql_url: str | None = None
    exceptions: tuple[ExceptionInfo, ...] = ()
    # ``cause`` given as the id of an exception recorded elsewhere in the trace.
    cause_id: str | None = None
    subsegments: tuple["Segment", ...] = ()
    raw: bytes | None = None
    size: int = 0

    def walk(self) -> "list[Segment]":
        """This entity and every subsegment embedded in it, depth first."""
        out = [self]
        stack = list(reversed(self.subsegments))
        while stack:
            entity = stack.pop()
            out.append(entity)
            stack.extend(reversed(entity.subsegments))
        return out
