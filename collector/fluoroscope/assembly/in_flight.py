"""What the assembler keeps per trace, the bounds on all of it, its counters, and which traces
it may forget."""

from collections.abc import Callable, Collection, Container
from dataclasses import dataclass

from fluoroscope.assembly.decisions import KEEP_ALL, Verdict
from fluoroscope.assembly.summaries import (
    Revision,
    Summarized,
    TailCall,
    lay_out,
    recount,
    summary_of,
)
from fluoroscope.model.segment import Document
from fluoroscope.model.statistics import Contribution, add_into, difference
from fluoroscope.model.summary import TraceSummary
from fluoroscope.model.trace import Completeness
from fluoroscope.store.types import TraceWrite
from fluoroscope.telemetry import Registry


@dataclass(frozen=True, slots=True)
class AssemblyLimits:
    """Bounds on what the buffer holds, and how long."""

    max_traces: int = 100_000
    max_bytes: int = 16 << 20
    idle_timeout_s: float = 30.0
    complete_linger_s: float = 0.5
    max_trace_bytes: int = 4 << 20


class AssemblyStats:
    """The assembler's counters."""

    def __init__(self, registry: Registry) -> None:
        dropped = registry.counter(
            "fluoroscope_assembly_documents_dropped",
            "Valid documents the assembler did not keep, by reason",
            ("reason",),
        )
        self.stale = dropped.child("stale_in_progress")
        self.limit = dropped.child("trace_limit_exceeded")
        evicted = registry.counter(
            "fluoroscope_assembly_traces_evicted",
            "Traces forgotten by the in-memory buffer (already stored), by reason",
            ("reason",),
        )
        self.evicted_complete = evicted.child("complete")
        self.evicted_idle = evicted.child("idle")
        self.evicted_pressure = evicted.child("pressure")
        self.accepted = registry.counter(
            "fluoroscope_assembly_documents_accepted",
            "Documents merged into a trace (counted when written, or when replaced before that)",
        ).child()
        self.failed = registry.counter(
            "fluoroscope_assembly_traces_failed",
            "Trace changes dropped because the trace could not be summarised (a bug; see logs)",
        ).child()
        self.reloaded = registry.counter(
            "fluoroscope_assembly_traces_reloaded",
            "Traces continued from the store (late documents, or in flight across a restart)",
        ).child()


class InFlightTrace:
    """One trace in the buffer: its current documents, what is unwritten, and its verdicts."""

    __slots__ = (
        "annotations",
        "completeness",
        "counted",
        "documents",
        "first_seen",
        "head",
        "loaded",
        "over_limit",
        "pending",
        "recount_from",
        "revision",
        "rowid",
        "size",
        "trace_id",
        "updated",
        "verdict",
        "written_seq",
    )

    def __init__(self, trace_id: str, now: float) -> None:
        self.trace_id = trace_id
        # Top-level documents by id, in the arrival order of their current versions.
        self.documents: dict[str, Document] = {}
        # Documents not yet written to the store.
        self.pending: dict[str, Document] = {}
        self.revision = 0
        self.rowid: int | None = None
        # Whether what the store held for this trace has been merged in.
        self.loaded = False
        self.size = 0
        self.over_limit = False
        self.updated = now
        self.first_seen = now
        # The sampling verdict once the trace is kept (None: undecided, not written yet), and
        # the head stage's verdict while the tail stage has not decided.
        self.verdict: Verdict | None = KEEP_ALL
        self.head: Verdict | None = None
        self.completeness = Completeness.INCOMPLETE
        self.annotations: object = None
        # The store batch that last wrote this trace; it may be forgotten once that commits.
        self.written_seq = 0
        # What this trace has added to the service graph's statistics so far; None when a
        # helper process summarised its last revision: then it is recomputed, when needed,
        # from that revision's summary, groups and weight.
        self.counted: Contribution | None = {}
        self.recount_from: tuple[str, list[str], float] | None = None

    @property
    def was_counted(self) -> bool:
        """Whether the store holds a contribution of this trace to the graph statistics."""
        return self.counted is None or bool(self.counted)

    @property
    def weight(self) -> float:
        """How many traces this one stands for in the graph's statistics."""
        return self.verdict.weight if self.verdict is not None else 1.0

    @property
    def pending_size(self) -> int:
        """Bytes of the documents not yet written."""
        return sum(document.size for document in self.pending.values())

    def revision_of(self, tail: TailCall | None = None) -> Revision:
        """What summarising the trace as it is now needs."""
        return Revision(
            self.trace_id,
            self.revision,
            self.over_limit,
            self.weight,
            [d.raw for d in self.documents.values()],
            tail,
        )

    def summarize_again(
        self, classify: Callable[[TraceSummary], list[str]], graph: Contribution
    ) -> Summarized:
        """Summarise this revision of a written trace here, adding into ``graph`` what changed
        in its contribution to the graph's statistics."""
        summary = summary_of(self.revision_of())
        summarized = lay_out(summary, classify(summary), self.weight, None)
        assert summarized.counted is not None
        if self.counted is None:  # a helper summarised the last revision: recompute it
            assert self.recount_from is not None
            self.counted = recount(*self.recount_from)
            self.recount_from = None
        add_into(graph, difference(summarized.counted, self.counted))
        return summarized

    def write_of(self, snapshot: list[Document], summarized: Summarized) -> TraceWrite:
        """The store write of a revision: its rows, and the documents ``snapshot`` took."""
        record = summarized.record
        verdict = self.verdict
        return TraceWrite(
            record,
            [(d.id, d.raw) for d in snapshot],
            self.rowid,
            annotations_changed=record.annotations != self.annotations,
            sampled_by=verdict.rule if verdict else "",
            probability=verdict.probability if verdict else 1.0,
        )

    def written(
        self, snapshot: list[Document], summarized: Summarized, write: TraceWrite, seq: int
    ) -> list[Document]:
        """Record a revision handed to the store in batch ``seq``, and return the documents of
        ``snapshot`` it took off the unwritten ones. A document replaced since the flush began
        is not among them: its replacement is still unwritten, and it was counted as accepted
        when it was replaced."""
        record = summarized.record
        self.counted = summarized.counted
        self.recount_from = (
            None
            if summarized.counted is not None
            else (record.summary, summarized.groups, self.weight)
        )
        self.rowid = write.rowid
        self.written_seq = seq
        self.completeness = Completeness(record.completeness)
        self.annotations = record.annotations
        pending = self.pending
        done = []
        for document in snapshot:
            if pending.get(document.id) is document:
                del pending[document.id]
                done.append(document)
        return done


def evictable(
    traces: Collection[InFlightTrace],
    changed: Container[str],
    now: float,
    committed: int,
    limits: AssemblyLimits,
    size: int,
    stats: AssemblyStats,
) -> list[InFlightTrace]:
    """The traces (oldest first) that are stored and done, idle, or over the memory bounds
    together; each counted in ``stats`` by reason.

    ``traces`` are in order of last update, ``changed`` names those not written since, and
    ``size`` is the bytes of them all.
    """
    linger = limits.complete_linger_s
    idle = limits.idle_timeout_s
    oldest_useful = min(linger, idle)
    count = len(traces)
    victims = []
    for trace in traces:
        age = now - trace.updated
        over = count > limits.max_traces or size > limits.max_bytes
        if age < oldest_useful and not over:
            break  # everything after this one was updated more recently
        if trace.verdict is None:
            continue  # waits for its sampling decision; flush decides it under pressure
        if trace.written_seq > committed or trace.trace_id in changed:
            # Not durable yet, so a reload could miss it; traces after it were updated
            # later, so they were written no earlier: none of them is durable either.
            break
        if trace.completeness is Completeness.COMPLETE and age >= linger:
            stats.evicted_complete.inc()
        elif age >= idle:
            stats.evicted_idle.inc()
        elif over:
            stats.evicted_pressure.inc()
        else:
            continue
        victims.append(trace)
        count -= 1
        size -= trace.size
    return victims
