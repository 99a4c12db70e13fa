"""A trace as a tree of entities, built from the documents received for it.

Documents arrive in any order: streamed subsegments before their segment, a child before its
parent subsegment, a downstream service's segment before its caller's. The tree is rebuilt from
the set of current documents, so arrival order only matters for choosing between two versions of
the same entity (:func:`supersedes`).
"""

import enum
from collections.abc import Iterable

from fluoroscope.model.segment import Segment


class Completeness(enum.IntEnum):
    """How finished a trace looks from the documents at hand."""

    # Some entity is still in progress.
    IN_PROGRESS = 0
    # Nothing is in progress, but the entry segment or a subsegment's parent is missing.
    INCOMPLETE = 1
    # The entry segment is closed, nothing is in progress, and every parent is present.
    COMPLETE = 2


def supersedes(old: Segment, new: Segment) -> bool:
    """Whether ``new`` replaces ``old``, an earlier version of the same entity.

    The last version wins, except that an in-progress version never reopens a completed one:
    UDP can reorder the two, and X-Ray's documented use is one in-progress then one complete.
    """
    return not (new.in_progress and not old.in_progress)


class TraceTree:
    """Every entity of one trace, with parent links and the entry segment.

    ``documents`` are the top-level views (segments and independent subsegments) in arrival
    order; each id appears at most once among them.
    """

    __slots__ = ("children", "completeness", "entities", "owner", "parent", "root", "segments")

    def __init__(self, documents: Iterable[Segment]) -> None:
        entities: dict[str, Segment] = {}
        parent: dict[str, str | None] = {}
        for document in documents:
            self._index(document, None, entities, parent)
        self.entities = entities
        self.parent = parent
        self.segments = [e for e in entities.values() if not e.is_subsegment]
        self.children: dict[str, list[str]] = {}
        for entity_id, parent_id in parent.items():
            if parent_id is not None and parent_id in entities:
                self.children.setdefault(parent_id, []).append(entity_id)
        self.owner = self._owners()
        self.root = self._find_root()
        self.completeness = self._completeness()

    @staticmethod
    def _index(
        entity: Segment,
        enclosing: str | None,
        entities: dict[str, Segment],
        parent: dict[str, str | None],
    ) -> None:
        stack: list[tuple[Segment, str | None]] = [(entity, enclosing)]
        while stack:
            current, up = stack.pop()
            old = entities.get(current.id)
            if old is not None and not supersedes(old, current):
                continue
            entities[current.id] = current
            parent[current.id] = up if up is not None else current.parent_id
            stack.extend((child, current.id) for child in current.subsegments)

    def _owners(self) -> dict[str, str | None]:
        """Map each entity id to the id of the segment (service) it belongs to, if any."""
        owner: dict[str, str | None] = {}
        for entity_id in self.entities:
            chain: list[str] = []
            current: str | None = entity_id
            found: str | None = None
            while current is not None and current in self.entities:
                if current in owner:
                    found = owner[current]
                    break
                if not self.entities[current].is_subsegment:
                    found = current
                    break
                chain.append(current)
                if len(chain) > len(self.entities):  # a parent cycle in hostile input
                    break
                current = self.parent.get(current)
            for link in chain:
                owner[link] = found
            owner[entity_id] = found
        return owner

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

    def _completeness(self) -> Completeness:
        if any(e.in_progress for e in self.entities.values()):
            return Completeness.IN_PROGRESS
        if self.root is None or self.root.parent_id is not None:
            return Completeness.INCOMPLETE
        for entity in self.entities.values():
            if entity.is_subsegment and self.parent.get(entity.id) not in self.entities:
                return Completeness.INCOMPLETE
        return Completeness.COMPLETE

    def segment_of(self, entity_id: str) -> Segment | None:
        """The segment that ``entity_id`` belongs to, or None for an orphan subsegment."""
        owner = self.owner.get(entity_id)
        return self.entities[owner] if owner is not None else None

    def callee_of(self, subsegment_id: str) -> Segment | None:
        """The segment a downstream subsegment called, when that service sent one."""
        for child_id in self.children.get(subsegment_id, ()):
            child = self.entities[child_id]
            if not child.is_subsegment:
                return child
        return None
