"""Stored documents to what BatchGetTraces returns: one document per segment.

Independent subsegments are folded under their parent, which may be a segment or any
subsegment, embedded or itself sent independently, in any arrival order (xray-protocol.md 4.6).
A segment that needed no folding is returned byte for byte as it was received. A subsegment
whose parent never arrived is returned as a document of its own rather than hidden.
"""

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True)
class ProcessedTrace:
    """A trace's documents as returned, and its duration (earliest start to latest end)."""

    documents: list[tuple[str, bytes]]
    duration: float


def processed_documents(stored: list[bytes]) -> ProcessedTrace:
    """Fold independent subsegments into their parents; ``stored`` is in arrival order."""
    segments: list[tuple[dict[str, Any], bytes]] = []
    independents: list[dict[str, Any]] = []
    for raw in stored:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # never stored invalid; skip rather than fail the whole trace
        if not isinstance(document, dict):
            continue
        if document.get("type") == "subsegment":
            independents.append(document)
        else:
            segments.append((document, raw))

    # Every entity by id: the object, and the list that holds it (None for a top document).
    where: dict[str, tuple[dict[str, Any], list[Any] | None]] = {}
    touched: set[int] = set()
    owner: dict[int, int] = {}  # id() of an entity -> id() of its top document
    for document, _ in segments:
        _index(document, None, id(document), where, owner)

    waiting = independents
    while waiting:
        still_waiting = []
        for sub in waiting:
            parent = where.get(sub.get("parent_id", ""))
            if parent is None:
                still_waiting.append(sub)
                continue
            parent_doc = parent[0]
            top = owner[id(parent_doc)]
            existing = where.get(sub["id"])
            if existing is not None and _keeps(existing[0], sub):
                continue
            if existing is not None and existing[1] is not None:
                existing[1].remove(existing[0])
            parent_doc.setdefault("subsegments", []).append(sub)
            _index(sub, parent_doc["subsegments"], top, where, owner)
            touched.add(top)
        if len(still_waiting) == len(waiting):
            break
        waiting = still_waiting

    out: list[tuple[float, str, bytes]] = []
    starts: list[float] = []
    ends: list[float] = []
    for document, raw in segments:
        body = orjson.dumps(document) if id(document) in touched else raw
        out.append((_time(document, "start_time"), str(document.get("id")), body))
    for orphan in waiting:
        out.append((_time(orphan, "start_time"), str(orphan.get("id")), orjson.dumps(orphan)))
    for document, _ in segments:
        starts.append(_time(document, "start_time"))
        ends.append(_end(document))
    for orphan in waiting:
        starts.append(_time(orphan, "start_time"))
        ends.append(_end(orphan))
    out.sort(key=lambda item: item[0])
    duration = max(0.0, max(ends) - min(starts)) if starts else 0.0
    return ProcessedTrace([(doc_id, body) for _, doc_id, body in out], duration)


def _index(
    entity: dict[str, Any],
    holder: list[Any] | None,
    top: int,
    where: dict[str, tuple[dict[str, Any], list[Any] | None]],
    owner: dict[int, int],
) -> None:
    stack: list[tuple[dict[str, Any], list[Any] | None]] = [(entity, holder)]
    while stack:
        current, container = stack.pop()
        entity_id = current.get("id")
        if isinstance(entity_id, str):
            where[entity_id] = (current, container)
        owner[id(current)] = top
        children = current.get("subsegments")
        if isinstance(children, list):
            stack.extend((child, children) for child in children if isinstance(child, dict))


def _keeps(existing: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """Whether an entity already in place wins over an independent copy of it.

    A completed version beats an in-progress one; otherwise the independent copy, which
    arrived on its own and is the more specific document, replaces the embedded one.
    """
    return incoming.get("in_progress") is True and existing.get("in_progress") is not True


def _time(document: dict[str, Any], key: str) -> float:
    value = document.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _end(document: dict[str, Any]) -> float:
    value = document.get("end_time")
    if isinstance(value, int | float) and document.get("in_progress") is not True:
        return float(value)
    return _time(document, "start_time")
