"""Continuing a trace the store already holds: its stored documents go under the newer ones.

A document for a trace that is no longer in memory (evicted, or from before a restart) starts
a fresh in-flight trace; before that trace is written, what the store holds is folded in, so
its revision, rowid, sampling verdict, size limit and graph contribution carry on.
"""

import logging
from collections.abc import Callable
from typing import NamedTuple

from fluoroscope.assembly.decisions import STORED, Verdict
from fluoroscope.assembly.in_flight import InFlightTrace
from fluoroscope.assembly.summaries import Revision, summary_of
from fluoroscope.errors import DocumentError
from fluoroscope.model.segment import Document
from fluoroscope.model.statistics import contribution
from fluoroscope.model.summary import TraceSummary
from fluoroscope.model.trace import supersedes
from fluoroscope.store.types import StoredTrace
from fluoroscope.translate.xray_json import parse_document

log = logging.getLogger(__name__)


class Merged(NamedTuple):
    """What folding the stored trace in changed beyond the trace itself."""

    # The change in the trace's size (the buffer's bytes change by as much).
    size_change: int
    # Unwritten documents dropped because the stored copy is newer, and their bytes.
    stale: int
    stale_bytes: int


def merge_stored(
    trace: InFlightTrace,
    earlier: StoredTrace,
    classify: Callable[[TraceSummary], list[str]],
    max_trace_bytes: int,
) -> Merged:
    """Fold ``earlier`` (the store's copy) under the documents ``trace`` holds in memory."""
    if trace.verdict is None:
        # Stored means kept: later documents of a kept trace are kept.
        trace.verdict = Verdict(True, earlier.sampled_by, earlier.probability, STORED)
    merged: dict[str, Document] = {}
    for raw in earlier.documents:
        try:
            documents = parse_document(raw)
        except DocumentError:  # stored by an older version with other rules
            log.warning("skipping a stored document of trace %s", trace.trace_id)
            continue
        for document in documents:
            merged[document.id] = document
    if merged:
        raws = [d.raw for d in merged.values()]
        stored = summary_of(Revision(trace.trace_id, earlier.revision, False, 1.0, raws))
        trace.counted = contribution(stored.facts, classify(stored), trace.weight)
    stale = stale_bytes = 0
    for document in trace.documents.values():
        old = merged.get(document.id)
        if old is not None:
            if not supersedes(old, document):
                dropped = trace.pending.pop(document.id, None)
                if dropped is not None:
                    stale_bytes += dropped.size
                trace.revision -= 1
                stale += 1
                continue
            del merged[old.id]
        merged[document.id] = document
    size_before = trace.size
    trace.documents = merged
    trace.size = sum(d.size for d in merged.values())
    trace.revision += earlier.revision
    trace.rowid = earlier.rowid
    trace.over_limit = earlier.limit_exceeded or trace.size > max_trace_bytes
    return Merged(trace.size - size_before, stale, stale_bytes)
