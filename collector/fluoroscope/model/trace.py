"""A trace as a tree of entities, built from the documents received for it.

Documents arrive in any order: streamed subsegments before their segment, a child before its
parent subsegment, a downstream service's segment before its caller's. The tree is rebuilt from
the set of current documents, so arrival order only matters for choosing between two versions of
the same entity (:func:`supersedes`).
"""

import enum
from collections.abc import Iterable
from typing import Protocol

from fluoroscope.model.segment import Segment


class Completeness(enum.IntEnum):
    """How finished a trace looks from the documents at hand."""

    # Some entity is still in progress.
    IN_PROGRESS = 0
    # Nothing is in progress, but the entry segment or a subsegment's parent is missing.
    INCOMPLETE = 1
    # The entry segment is closed, nothing is in progress, and every parent is present.
    COMPLETE = 2


class Versioned(Protocol):
    """A version of an entity: a view, or a document as the assembler holds it."""

    @property
    def in_progress(self) -> bool: ...


def supersedes(old: Versioned, new: Versioned) -> bool:
    """Whether ``new`` replaces ``old``, an earlier version of the same entity.

    The last version wins, except that an in-progress version never reopens a completed one:
    UDP can reorder the two, and X-Ray's documented use is one in-progress then one complete.
    """
    return not (new.in_progress and not old.in_progress)


class TraceTree:
    """Every entity of one trace, with parent links, owning segments and the entry segment.

    ``documents`` are the top-level views (segments and independent subsegments) in arrival
    order; each id appears at most once among them.
    """

    __slots__ = ("callees", "completeness", "entities", "owner", "parent", "root", "segments")

    def __init__(self, documents: Iterable[Segment]) -> None:
        entities: dict[str, Segment] = {}
        parent: dict[str, str | None] = {}
        # Entity id -> id of the segment (service) it belongs to; None until resolved.
        owner: dict[str, str | None] = {}
        segments: list[Segment] = []
        independents: list[Segment] = []
        for document in documents:
            if document.type is None:
                segments.append(document)
                top_owner: str | None = document.id
            else:
                independents.append(document)
                top_owner = None
            stack: list[tuple[Segment, str | None]] = [(document, document.parent_id)]
            while stack:
                entity, up = stack.pop()
                old = entities.get(entity.id)
                if old is not None and not supersedes(old, entity):
                    continue
                entities[entity.id] = entity
                parent[entity.id] = up
                owner[entity.id] = top_owner
                for child in entity.subsegments:
                    stack.append((child, entity.id))
        self.entities = entities
        self.parent = parent
        # Real segments (one per service visit); the rest are subsegments.
        self.segments = [s for s in segments if entities.get(s.id) is s]
        # A downstream subsegment's id -> the segment its callee sent (parent_id = that id).
        self.callees = {s.parent_id: s for s in self.segments if s.parent_id is not None}
        orphaned = self._resolve_owners(independents, owner)
        self.owner = owner
        self.root = self._find_root()
        # Judged on the current version of each entity only: a completed version replaces an
        # in-progress one wherever either was embedded.
        if any(entity.in_progress for entity in entities.values()):
            self.completeness = Completeness.IN_PROGRESS
        elif (
            orphaned
            or self.root is None
            or self.root.parent_id is not None
            or any(s.parent_id is not None and s.parent_id not in entities for s in self.segments)
        ):
            self.completeness = Completeness.INCOMPLETE
        else:
            self.completeness = Completeness.COMPLETE

    def _resolve_owners(self, independents: list[Segment], owner: dict[str, str | None]) -> bool:
        """Give streamed subtrees their parent's owner; return whether a parent is missing."""
        orphaned = False
        entities = self.entities
        for document in independents:
            if entities.get(document.id) is not document:
                continue  # superseded by another version of the same id
            # Walk up to the first entity whose owner is known; bounded against cycles.
            chain = []
            current: str | None = document.id
            found: str | None = None
            for _ in range(len(entities) + 1):
                if current is None or current not in entities:
                    orphaned = True
                    break
                known = owner.get(current)
                if known is not None:
                    found = known
                    break
                chain.append(current)
                current = self.parent.get(current)
            if found is None:
                continue
            for entity_id in chain:
                owner[entity_id] = found
            for entity in document.walk():
                if owner.get(entity.id) is None and entities.get(entity.id) is entity:
                    owner[entity.id] = found
        return orphaned

    def _find_root(self) -> Segment | None:
        """The entry segment: no upstream caller, earliest start; else the earliest orphan."""
        best: Segment | None = None
        fallback: Segment | None = None
        for segment in self.segments:
            if segment.parent_id is None:
                if best is None or segment.start_time < best.start_time:
                    best = segment
            elif segment.parent_id not in self.entities and (
                fallback is None or segment.start_time < fallback.start_time
            ):
                fallback = segment
        return best if best is not None else fallback

    def segment_of(self, entity_id: str) -> Segment | None:
        """The segment that ``entity_id`` belongs to, or None for an orphan subsegment."""
        owner = self.owner.get(entity_id)
        return self.entities[owner] if owner is not None else None
