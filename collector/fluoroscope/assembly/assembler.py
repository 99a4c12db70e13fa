"""The in-flight trace buffer.

Documents are added one at a time (from the pipeline's writer thread only); :meth:`flush`
writes every trace that changed since the last flush as one store batch, and :meth:`evict`
forgets traces that no longer need to be in memory. ``flush(ready_only=True)`` writes only the
traces whose entry segment has arrived closed: services report deepest first, so such a trace
is most likely whole, and writing it at once makes it queryable sooner without rewriting
traces that are still filling in. The store is the source of truth: a trace
that is not in memory (never seen, evicted, or from before a restart) is merged with what the
store already holds before it is written, so late documents continue a trace correctly.
Summarising for the store is :mod:`.summaries`, that merge :mod:`.reload`, the order flushes
waiting for their summaries are written in :mod:`.batches`, the choice of what to forget
:func:`.in_flight.evictable`, and the bookkeeping of which traces have changes to write
:mod:`.buffer`; this module decides what each flush samples, summarises and writes.
"""

import logging
import time
from collections.abc import Callable, Sequence

from fluoroscope.assembly.batches import Batch, Batches
from fluoroscope.assembly.buffer import TraceBuffer
from fluoroscope.assembly.decisions import Verdict, kept
from fluoroscope.assembly.gate import SamplingGate
from fluoroscope.assembly.in_flight import (
    AssemblyLimits,
    AssemblyStats,
    InFlightTrace,
    evictable,
)
from fluoroscope.assembly.reload import merge_stored
from fluoroscope.assembly.summaries import (
    Summaries,
    TailCall,
    Withheld,
)
from fluoroscope.errors import StoreError
from fluoroscope.filters.groups import Groups
from fluoroscope.model.segment import Document
from fluoroscope.model.summary import TraceSummary
from fluoroscope.store.store import TraceSink
from fluoroscope.telemetry import Registry

log = logging.getLogger(__name__)


class Assembler:
    """Merges documents into traces and writes trace revisions to a :class:`TraceSink`."""

    def __init__(
        self,
        sink: TraceSink,
        registry: Registry,
        limits: AssemblyLimits = AssemblyLimits(),
        now: Callable[[], float] = time.time,
        groups: Groups | None = None,
        gate: SamplingGate | None = None,
        summary_processes: int = 0,
    ) -> None:
        self._sink = sink
        self._groups = groups
        self._gate = gate
        self.summaries = Summaries(
            summary_processes,
            registry,
            self._classify,
            groups.definitions if groups is not None else tuple,
            tail=gate.tail if gate is not None else None,
        )
        self._limits = limits
        self._now = now
        self.stats = AssemblyStats(registry)
        self._buffer = TraceBuffer(limits, self.stats)
        # Flushes waiting for their summaries (see flush's ``defer``).
        self._batches = Batches(sink, now)

    @property
    def in_flight(self) -> int:
        """How many traces are in memory."""
        return len(self._buffer.traces)

    @property
    def held_bytes(self) -> int:
        """The size of every document in memory."""
        return self._buffer.bytes

    @property
    def pending_bytes(self) -> int:
        """The size of the documents the next full flush would write (traces waiting for a
        sampling decision are not counted)."""
        return self._buffer.pending_bytes

    def add(self, document: Document) -> str | None:
        """Merge one top-level document; return a refusal code, or None when it is kept."""
        now = self._now()
        trace = self._buffer.take(document.trace_id)
        if trace is None:
            if self._buffer.left_over_limit(document.trace_id):
                self.stats.limit.inc()
                return "TraceLimitExceeded"
            trace = InFlightTrace(document.trace_id, now)
            if self._gate is not None:
                dropped = self._gate.remembered(document.trace_id)
                if dropped is not None:
                    self._gate.dropped_late(dropped)
                    return None
                trace.verdict = None  # undecided, unless the store has it (_merge_stored)
        return self._buffer.add(trace, document, now)

    @property
    def ready(self) -> int:
        """How many changed traces have their entry segment, closed (see ``ready_only``)."""
        return len(self._buffer.ready)

    @property
    def dirty(self) -> int:
        """How many traces have changes not yet written (or wait for a sampling decision)."""
        buffer = self._buffer
        return len(buffer.changed) + len(buffer.waiting) + len(self._batches.writing)

    def flush(
        self,
        on_commit: Callable[[], None] | None = None,
        written: list[bytes] | None = None,
        *,
        final: bool = False,
        ready_only: bool = False,
        defer: bool = False,
        acknowledges: bool = False,
    ) -> int:
        """Write every changed trace that is kept in one batch; return how many were written
        (or, when the batch is deferred, how many it will write).

        ``on_commit`` runs once the batch is durable, or at once when there is nothing to
        write; ``written``, when given, receives the documents of the batch (for exporters).
        Raises StoreError if the sink refuses the batch; the changes are then marked changed
        again, ``on_commit`` waits for the batch that writes them, and the next flush retries
        them. Traces that wait for a sampling decision are decided when their wait is over,
        under memory pressure, or (``final``, at shutdown) at once. ``ready_only`` writes only
        the changed traces whose entry segment has arrived closed, and leaves the rest for a
        later flush.

        With ``defer``, a batch whose summaries went to helper processes is written by a
        later :meth:`collect` (or flush), so that the caller goes on taking documents
        meanwhile. Up to :data:`MAX_DEFERRED` batches wait so, and they are written in the order
        they were made; the traces of one are left out of the next until it is written. Without
        ``defer``, the waiting batches are written first.

        ``acknowledges`` says that ``on_commit`` answers for every document added so far
        (PutTraceSegments): the waiting batches are then written first, so that no trace is
        left out of this one. A refused batch's callbacks wait for such a full flush too.
        """
        acknowledges = (acknowledges or bool(self._batches.carried)) and not ready_only
        if not defer or final or acknowledges:
            self.collect(wait=True, on_failure=on_commit)
        elif self._batches.busy:
            self.collect(wait=True, on_failure=on_commit, oldest_only=True)
        flush = self._begin(
            on_commit,
            written,
            ready_only=ready_only,
            hurry=final,
            defer=defer and not final,
            carried=acknowledges,
        )
        if flush is None:
            return 0
        if defer and not final:
            self._batches.defer(flush)
            self.collect()
            return len(flush.here) + len(flush.first)
        return self._finish(flush)

    @property
    def busy(self) -> bool:
        """Whether :data:`MAX_DEFERRED` deferred batches wait (see flush's ``defer``)."""
        return self._batches.busy

    @property
    def waiting(self) -> int:
        """How many deferred batches wait to be written (see :meth:`collect`)."""
        return len(self._batches)

    def collect(
        self,
        *,
        wait: bool = False,
        on_failure: Callable[[], None] | None = None,
        oldest_only: bool = False,
    ) -> bool:
        """Write the deferred batches whose summaries are made, oldest first (``wait``:
        waiting for them; ``oldest_only``: just the oldest); whether any was written.

        Raises what :meth:`flush` raises; ``on_failure``, a caller's commit callback not yet
        handed to a batch, then waits with the failed batch's for the retry.
        """
        collected = False
        while (flush := self._batches.next(wait)) is not None:
            try:
                self._finish(flush)
            except StoreError:
                if on_failure is not None:
                    self._batches.carried.append(on_failure)
                raise
            collected = True
            if oldest_only:
                break
        return collected

    def _begin(
        self,
        on_commit: Callable[[], None] | None,
        written: list[bytes] | None,
        *,
        ready_only: bool,
        hurry: bool,
        defer: bool,
        carried: bool,
    ) -> Batch | None:
        """Choose, sample and start summarising what a flush writes (None: nothing).

        ``carried``: the callbacks of refused batches come along (the flush writes every
        changed trace).
        """
        callbacks: list[Callable[[], None]] = []
        if carried:
            callbacks, self._batches.carried = self._batches.carried, []
        if on_commit is not None:
            callbacks.append(on_commit)
        buffer = self._buffer
        hurry = hurry or buffer.over_limits()
        if buffer.waiting and not ready_only:
            assert self._gate is not None
            buffer.recall(None if hurry else self._now() - self._gate.wait_s)
        writing = self._batches.writing
        if ready_only:
            chosen = [buffer.changed[i] for i in buffer.ready if i not in writing]
        elif writing:
            chosen = [t for t in buffer.changed.values() if t.trace_id not in writing]
        else:
            chosen = list(buffer.changed.values())
        if not chosen:
            self._batches.after_earlier(callbacks, behind_deferred=True)
            return None
        self._merge_stored([t for t in chosen if not t.loaded])
        now = self._now()
        flush = Batch(callbacks, written)
        for trace in chosen:
            try:
                if trace.verdict is None and not self._head_keeps(trace, now, hurry):
                    continue
            except Exception:  # a bug must cost one trace, never the pipeline
                log.exception("cannot sample trace %s; dropping its changes", trace.trace_id)
                self._failed(trace)
                continue
            # Documents that arrive from here on make a new change, for the next flush.
            buffer.unchange(trace)
            snapshot = list(trace.pending.values())
            # A revision of a written trace is diffed against its old contribution: here.
            (flush.here if trace.was_counted else flush.first).append((trace, snapshot))
        revisions = [t.revision_of(self._tail_call(t, now, hurry)) for t, _ in flush.first]
        flush.summaries = self.summaries.start(revisions, flush.graph, share_all=defer)
        for trace, snapshot in flush.here:
            try:
                again = trace.summarize_again(self._classify, flush.graph)
                flush.done.append((trace, snapshot, again))
            except Exception:  # a bug must cost one trace, never the pipeline
                log.exception("cannot summarise trace %s; dropping its changes", trace.trace_id)
                self._failed(trace)
        return flush

    def _finish(self, flush: Batch) -> int:
        """Take a flush's summaries, write its batch, and record what was written."""
        self._batches.finished(flush)
        try:
            return self._write(flush)
        except StoreError:
            # Nothing was counted as written: the next flush writes these traces again, and
            # the callbacks wait for the batch that does.
            for trace, _, _ in flush.done:
                self._buffer.change(trace)
            self._batches.carried[:0] = flush.callbacks
            raise
        except Exception:  # a bug: writing the same changes again would fail again
            for trace in flush.traces():
                buffer = self._buffer
                if trace.trace_id in buffer.traces and trace.trace_id not in buffer.waiting:
                    self._failed(trace)
            raise

    def _write(self, flush: Batch) -> int:
        done = flush.done
        for (trace, snapshot), result in zip(flush.first, flush.summaries(), strict=True):
            if result is None:
                self._failed(trace)
            elif isinstance(result, Withheld):
                if result.verdict is None:
                    self._buffer.wait(trace)
                else:
                    self._tail_decided(trace, result.verdict)
            else:
                if result.tail is not None:
                    self._tail_decided(trace, result.tail)
                done.append((trace, snapshot, result))
        writes = [trace.write_of(snapshot, summarized) for trace, snapshot, summarized in done]
        if not writes:
            self._batches.after_earlier(flush.callbacks, behind_deferred=False)
            return 0
        seq = self._batches.write(writes, flush.callbacks, flush.graph)
        if flush.written is not None:
            flush.written.extend(raw for write in writes for _, raw in write.documents)
        for (trace, snapshot, summarized), write in zip(done, writes, strict=True):
            for document in trace.written(snapshot, summarized, write, seq):
                self._buffer.pending_bytes -= document.size
                self.stats.accepted.inc()
        return len(writes)

    def abandon(self) -> None:
        """Drop every change not yet written, each trace counted as failed (after a flush
        failed on a bug: writing the same changes again would fail again)."""
        for batch in self._batches.drain():
            for trace in batch.traces():
                self._failed(trace)
        for trace in list(self._buffer.changed.values()):
            self._failed(trace)

    def _tail_call(self, trace: InFlightTrace, now: float, hurry: bool) -> TailCall | None:
        """What the tail stage needs to decide a trace past its head stage (None if decided)."""
        if trace.verdict is not None:
            return None
        assert self._gate is not None
        return TailCall(hurry or now - trace.first_seen >= self._gate.wait_s, trace.head)

    def _failed(self, trace: InFlightTrace) -> None:
        self.stats.failed.inc()
        self._buffer.discard(trace)

    def _head_keeps(self, trace: InFlightTrace, now: float, hurry: bool) -> bool:
        """Whether an undecided trace may go on to the tail stage or be written."""
        gate = self._gate
        assert gate is not None
        if gate.head is None or trace.head is not None:
            return True
        waited = hurry or now - trace.first_seen >= gate.wait_s
        verdict = gate.decide_head(trace.trace_id, trace.documents.values(), waited)
        if verdict is None:
            self._buffer.wait(trace)
            return False
        if not verdict.kept:
            self._drop(trace, verdict)
            return False
        trace.head = verdict
        if gate.tail is None:
            trace.verdict = kept(verdict, None)
        return True

    def _tail_decided(self, trace: InFlightTrace, verdict: Verdict) -> None:
        """Count the tail stage's verdict on a trace; drop the trace, or record it as kept."""
        assert self._gate is not None
        self._gate.decided_tail(verdict)
        if verdict.kept:
            trace.verdict = kept(trace.head, verdict)
        else:
            self._drop(trace, verdict)

    def _drop(self, trace: InFlightTrace, verdict: Verdict) -> None:
        assert self._gate is not None
        self._gate.dropped(trace.trace_id, verdict, len(trace.pending))
        self._buffer.discard(trace)

    def _merge_stored(self, traces: Sequence[InFlightTrace]) -> None:
        """Fold what the store already has for these traces under their newer documents."""
        if not traces:
            return
        stored = self._sink.load([t.trace_id for t in traces])
        for trace in traces:
            trace.loaded = True
            earlier = stored.get(trace.trace_id)
            if earlier is None:
                continue
            self.stats.reloaded.inc()
            merged = merge_stored(trace, earlier, self._classify, self._limits.max_trace_bytes)
            self._buffer.bytes += merged.size_change
            self._buffer.pending_bytes -= merged.stale_bytes
            self.stats.stale.inc(merged.stale)

    def _classify(self, summary: TraceSummary) -> list[str]:
        """ "" (all traces) and the names of the groups whose filters the trace matches."""
        if self._groups is None:
            return [""]
        return ["", *self._groups.classify(summary)]

    def evict(self) -> None:
        """Forget stored traces that are done, idle, or over the memory bounds (oldest first)."""
        victims = evictable(
            self._buffer.traces.values(),
            self._batches.unwritten(self._buffer.changed),
            self._now(),
            self._sink.committed_seq,
            self._limits,
            self._buffer.bytes,
            self.stats,
        )
        for trace in victims:
            self._buffer.forget(trace)
