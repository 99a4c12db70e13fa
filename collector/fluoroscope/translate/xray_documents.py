"""Stored documents to what BatchGetTraces returns: one document per segment.

Independent subsegments are folded under their parent, which may be a segment or any
subsegment, embedded or itself sent independently, in any arrival order (xray-protocol.md 4.6).
When one entity arrived in several versions (embedded in progress, then on its own completed, or
the other way round), the version that wins is the one the assembler keeps: a completed version
beats an in-progress one, otherwise the later arrival wins; children move with their entity.
A segment whose tree needed no change is returned byte for byte as it was received. Subsegments
whose parent never arrived are returned as documents of their own, with their children folded
in, rather than hidden. The inferred segments X-Ray adds for downstream calls nobody answered
are returned beside them, all in order of start time (:mod:`.inferred_segments`).
"""

from dataclasses import dataclass
from typing import Any

from fluoroscope.translate import json_codec
from fluoroscope.translate.inferred_segments import Entity, inferred_documents


@dataclass(slots=True)
class ProcessedTrace:
    """A trace's documents as returned, and its duration (earliest start to latest end)."""

    documents: list[tuple[str, bytes]]
    duration: float


@dataclass(slots=True)
class _Version:
    body: dict[str, Any]
    parent: str | None
    # Arrival position: documents in order, entities in order within each.
    order: int
    # The top-level document it came in (an index into the stored list).
    source: int
    is_segment: bool


def processed_documents(stored: list[bytes]) -> ProcessedTrace:
    """Fold independent subsegments into their parents; ``stored`` is in arrival order."""
    tops: list[tuple[dict[str, Any], bytes]] = []
    for raw in stored:
        try:
            document = json_codec.loads(raw)
        except ValueError:
            continue  # never stored invalid; skip rather than fail the whole trace
        if isinstance(document, dict) and isinstance(document.get("id"), str):
            tops.append((document, raw))

    winners = _winners(tops)
    children: dict[str, list[str]] = {}
    for entity_id, version in sorted(winners.items(), key=lambda item: item[1].order):
        if not version.is_segment and version.parent is not None:
            children.setdefault(version.parent, []).append(entity_id)

    out: list[tuple[float, str, bytes]] = []
    placed: set[str] = set()
    for index, (document, raw) in enumerate(tops):
        kept = winners.get(document["id"])
        if kept is None or kept.source != index or not kept.is_segment:
            continue
        body, changed = _build(document["id"], winners, children, placed, index)
        out.append(
            (
                _number(body, "start_time"),
                document["id"],
                json_codec.dumps(body) if changed else raw,
            )
        )
    # What is left are subsegments whose parent never arrived: each tops its own document.
    for entity_id, version in sorted(winners.items(), key=lambda item: item[1].order):
        if entity_id in placed or version.parent in winners:
            continue
        body, _ = _build(entity_id, winners, children, placed, -1)
        out.append((_number(body, "start_time"), entity_id, json_codec.dumps(body)))
    # Entities in a cycle of parents (a subsegment naming itself, or its own child, as its
    # parent) have no top above them: the first of each cycle tops a document, rather than
    # the whole cycle vanishing.
    for entity_id, _version in sorted(winners.items(), key=lambda item: item[1].order):
        if entity_id not in placed:
            body, _ = _build(entity_id, winners, children, placed, -1)
            out.append((_number(body, "start_time"), entity_id, json_codec.dumps(body)))
    trace_id = tops[0][0].get("trace_id") if tops else None
    if isinstance(trace_id, str):
        entities = {k: Entity(v.body, v.parent, v.is_segment) for k, v in winners.items()}
        for inferred in inferred_documents(trace_id, entities):
            out.append(
                (_number(inferred, "start_time"), inferred["id"], json_codec.dumps(inferred))
            )
    out.sort(key=lambda item: item[0])

    starts = [_number(v.body, "start_time") for v in winners.values()]
    ends = [_end(v.body) for v in winners.values()]
    duration = max(0.0, max(ends) - min(starts)) if starts else 0.0
    return ProcessedTrace([(doc_id, body) for _, doc_id, body in out], duration)


def _winners(tops: list[tuple[dict[str, Any], bytes]]) -> dict[str, _Version]:
    """The version of every entity that the trace keeps."""
    winners: dict[str, _Version] = {}
    order = 0
    for index, (document, _) in enumerate(tops):
        parent = document.get("parent_id")
        stack: list[tuple[dict[str, Any], str | None, bool]] = [
            (document, parent if isinstance(parent, str) else None, document.get("type") is None)
        ]
        while stack:
            body, up, is_segment = stack.pop()
            entity_id = body.get("id")
            if not isinstance(entity_id, str):
                continue
            old = winners.get(entity_id)
            if old is None or not _keeps(old.body, body):
                winners[entity_id] = _Version(body, up, order, index, is_segment)
            order += 1
            nested = body.get("subsegments")
            if isinstance(nested, list):
                stack.extend(
                    (child, entity_id, False)
                    for child in reversed(nested)
                    if isinstance(child, dict)
                )
    return winners


def _build(
    entity_id: str,
    winners: dict[str, _Version],
    children: dict[str, list[str]],
    placed: set[str],
    source: int,
) -> tuple[dict[str, Any], bool]:
    """The entity's document with its current children; and whether it differs from ``source``."""
    placed.add(entity_id)
    version = winners[entity_id]
    changed = version.source != source
    kids = [c for c in children.get(entity_id, ()) if c not in placed]
    built = []
    for child in kids:
        body, child_changed = _build(child, winners, children, placed, source)
        built.append(body)
        changed = changed or child_changed
    original = version.body.get("subsegments")
    original_ids = (
        [c.get("id") for c in original if isinstance(c, dict)] if isinstance(original, list) else []
    )
    changed = changed or original_ids != kids
    if not changed:
        return version.body, False
    body = dict(version.body)
    if built:
        body["subsegments"] = built
    else:
        body.pop("subsegments", None)
    return body, True


def _keeps(existing: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """Whether the version in hand wins over a later-arriving one (the assembler's rule)."""
    return incoming.get("in_progress") is True and existing.get("in_progress") is not True


def _number(document: dict[str, Any], key: str) -> float:
    value = document.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _end(document: dict[str, Any]) -> float:
    value = document.get("end_time")
    if document.get("in_progress") is not True and isinstance(value, int | float):
        return float(value)
    return _number(document, "start_time")
