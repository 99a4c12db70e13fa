"""The traces in memory, which of them have changes to write, and what they weigh.

The assembler decides what to sample, summarise and write; this module keeps the bookkeeping
those decisions move traces through, so that the byte counts always agree with the lists:
``changed`` traces have documents to write, ``waiting`` ones wait for a sampling decision, and
``pending_bytes`` counts the unwritten documents of the changed ones only.
"""

from fluoroscope.assembly.in_flight import AssemblyLimits, AssemblyStats, InFlightTrace
from fluoroscope.model.segment import Document
from fluoroscope.model.trace import supersedes

# Traces over their size limit that left memory, remembered so that later documents are refused
# at once rather than stored past the limit (bounded: the oldest are forgotten first; a
# forgotten one is found over the limit again when the store is read, at its next flush).
REMEMBERED_OVER_LIMIT = 10_000


class TraceBuffer:
    """Every trace in memory, in the order of their last update (oldest first)."""

    def __init__(self, limits: AssemblyLimits, stats: AssemblyStats) -> None:
        self._limits = limits
        self._stats = stats
        # Ordered by last update, oldest first: eviction takes from the front.
        self.traces: dict[str, InFlightTrace] = {}
        self.changed: dict[str, InFlightTrace] = {}
        # Changed traces whose entry segment arrived closed (a subset of changed's keys).
        self.ready: set[str] = set()
        # Undecided traces with no change since the last flush.
        self.waiting: dict[str, InFlightTrace] = {}
        self.bytes = 0
        # Unwritten documents of changed traces: what the next full flush would write (traces
        # waiting for a sampling decision are not counted).
        self.pending_bytes = 0
        # Insertion-ordered, oldest first (see REMEMBERED_OVER_LIMIT).
        self._over_limit: dict[str, None] = {}

    def take(self, trace_id: str) -> InFlightTrace | None:
        """The trace, taken out so that :meth:`add` puts it back as the latest updated."""
        return self.traces.pop(trace_id, None)

    def add(self, trace: InFlightTrace, document: Document, now: float) -> str | None:
        """Merge a document into ``trace`` (new, or taken); a refusal code, or None if kept."""
        self.traces[trace.trace_id] = trace  # now the most recently updated
        if trace.over_limit:
            self._stats.limit.inc()
            return "TraceLimitExceeded"
        old = trace.documents.get(document.id)
        if old is not None:
            if not supersedes(old, document):
                self._stats.stale.inc()
                return None
            del trace.documents[old.id]
            trace.size -= old.size
            self.bytes -= old.size
        if self.waiting and self.waiting.pop(trace.trace_id, None) is not None:
            self.pending_bytes += trace.pending_size  # changed again: counted again
        pending = trace.pending.pop(document.id, None)
        if pending is not None:
            # Replaced before it was written: it was accepted all the same.
            self.pending_bytes -= pending.size
            self._stats.accepted.inc()
        trace.documents[document.id] = document
        trace.pending[document.id] = document
        trace.size += document.size
        self.bytes += document.size
        self.pending_bytes += document.size
        trace.revision += 1
        trace.updated = now
        if trace.size > self._limits.max_trace_bytes:
            trace.over_limit = True
        self.changed[trace.trace_id] = trace
        if document.parent_id is None and not document.in_progress:
            self.ready.add(trace.trace_id)  # an entry segment, closed
        return None

    def over_limits(self) -> bool:
        """Whether the buffer holds more traces or bytes than its limits allow."""
        limits = self._limits
        return len(self.traces) > limits.max_traces or self.bytes > limits.max_bytes

    def unchange(self, trace: InFlightTrace) -> None:
        """Take a trace off the changed list (written, waiting, dropped or failed)."""
        self.changed.pop(trace.trace_id, None)
        self.ready.discard(trace.trace_id)

    def change(self, trace: InFlightTrace) -> None:
        """Put a trace whose write failed back on the changed list, if it is still held."""
        if trace.trace_id in self.traces:
            self.changed[trace.trace_id] = trace

    def wait(self, trace: InFlightTrace) -> None:
        """Hold a trace for a sampling decision: a flush cannot write it meanwhile, so its
        documents do not count towards an early flush."""
        self.unchange(trace)
        self.waiting[trace.trace_id] = trace
        self.pending_bytes -= trace.pending_size

    def recall(self, first_seen_by: float | None) -> None:
        """Make the waiting traces first seen by then (all, for None) changed again."""
        for trace_id, trace in list(self.waiting.items()):
            if first_seen_by is None or trace.first_seen <= first_seen_by:
                del self.waiting[trace_id]
                self.changed[trace_id] = trace
                self.pending_bytes += trace.pending_size

    def discard(self, trace: InFlightTrace) -> None:
        """Drop a trace's unwritten changes and forget it."""
        self.unchange(trace)
        if self.waiting.pop(trace.trace_id, None) is None:
            self.pending_bytes -= trace.pending_size  # a waiting trace's are not counted
        trace.pending.clear()
        self.forget(trace)

    def forget(self, trace: InFlightTrace) -> None:
        """Stop holding a trace (the store has all of it that is kept)."""
        if self.traces.pop(trace.trace_id, None) is not None:
            self.bytes -= trace.size
        if trace.over_limit:
            remembered = self._over_limit
            remembered[trace.trace_id] = None
            if len(remembered) > REMEMBERED_OVER_LIMIT:
                del remembered[next(iter(remembered))]

    def left_over_limit(self, trace_id: str) -> bool:
        """Whether a trace no longer held was over its size limit when it left."""
        return trace_id in self._over_limit
