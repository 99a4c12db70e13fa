"""The inferred segments BatchGetTraces adds for downstream calls whose callee sent nothing.

X-Ray returns, beside the segments a trace's services sent, one segment per ``aws`` or
``remote`` subsegment that no segment answered (xray-protocol.md 4.7): it stands for the AWS
resource, database or uninstrumented service called, under the name and type the service graph
gives that node (:func:`fluoroscope.model.services.inferred_service`), with the call's times,
status flags and ``http`` / ``aws`` / ``sql`` blocks, ``parent_id`` the subsegment's id and
``"inferred": true``. A call whose callee did send a segment (its ``parent_id`` the
subsegment's) gets none, nor does a call whose own segment never arrived: the graph draws no
edge for either.

X-Ray gives an inferred segment a new random id. Here the id is derived from the trace and the
subsegment, so that asking twice returns the same documents.
"""

import hashlib
from typing import Any, NamedTuple

import msgspec

from fluoroscope.model.segment import Segment
from fluoroscope.model.services import DOWNSTREAM_NAMESPACES, inferred_service

# What the inferred segment copies from the subsegment, as the subsegment has it.
_COPIED = ("http", "aws", "sql")
_FLAGS = ("error", "fault", "throttle")
# What deciding the node needs of a subsegment (see inferred_service).
_IDENTITY = ("id", "name", "start_time", "namespace", "aws", "sql")


class Entity(NamedTuple):
    """One entity of a trace, in the version the trace keeps."""

    body: dict[str, Any]
    # Its parent's id: the enclosing entity, or a document's ``parent_id``.
    parent: str | None
    is_segment: bool


def inferred_documents(trace_id: str, entities: dict[str, Entity]) -> list[dict[str, Any]]:
    """The inferred segments of one trace, given its entities by id."""
    answered = {e.parent for e in entities.values() if e.is_segment and e.parent is not None}
    out = []
    for entity_id, entity in entities.items():
        body = entity.body
        if entity.is_segment or body.get("namespace") not in DOWNSTREAM_NAMESPACES:
            continue
        if entity_id in answered or not _owned(entity_id, entities):
            continue
        document = _inferred(trace_id, entity_id, body)
        if document is not None:
            out.append(document)
    return out


def _owned(entity_id: str, entities: dict[str, Entity]) -> bool:
    """Whether a segment of the trace encloses the entity (bounded against parent cycles)."""
    current: str | None = entity_id
    for _ in range(len(entities)):
        entity = entities.get(current) if current is not None else None
        if entity is None:
            return False
        if entity.is_segment:
            return True
        current = entity.parent
    return False


def _inferred(trace_id: str, entity_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
    try:
        call = msgspec.convert({k: body[k] for k in _IDENTITY if k in body}, Segment)
    except msgspec.ValidationError:
        return None  # stored documents were validated; a field that no longer reads is skipped
    node = inferred_service(call)
    document: dict[str, Any] = {
        "id": _derived_id(trace_id, entity_id),
        "name": node.name,
        "trace_id": trace_id,
        "start_time": body["start_time"],
    }
    if body.get("in_progress") is True:
        document["in_progress"] = True
    elif "end_time" in body:
        document["end_time"] = body["end_time"]
    document["parent_id"] = entity_id
    document["inferred"] = True
    # A remote call's node type ("remote") is not an origin X-Ray knows.
    if node.type is not None and node.type != "remote":
        document["origin"] = node.type
    for key in _COPIED:
        if isinstance(body.get(key), dict):
            document[key] = body[key]
    for key in _FLAGS:
        if body.get(key) is True:
            document[key] = True
    return document


def _derived_id(trace_id: str, entity_id: str) -> str:
    """A 16-hex-digit id, the same for the same call of the same trace."""
    digest = hashlib.blake2b(f"{trace_id}/{entity_id}".encode(), digest_size=8)
    return digest.hexdigest()
