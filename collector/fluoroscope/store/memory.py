"""An in-memory :class:`TraceSink`, for tests of the assembler and for users' own tests."""

from collections.abc import Callable, Sequence

from fluoroscope.model.statistics import Contribution, add_into
from fluoroscope.model.summary import TraceSummary
from fluoroscope.store import summary_codec
from fluoroscope.store.types import StoredTrace, TraceWrite


class InMemoryTraceSink:
    """Keeps every trace revision in dictionaries, with the same semantics as the store.

    Writes commit at once, so ``on_commit`` runs before ``write`` returns.
    """

    def __init__(self) -> None:
        self.traces: dict[str, StoredTrace] = {}
        self.summaries: dict[str, TraceSummary] = {}
        # (rule that kept it, probability it had of being kept) per trace.
        self.sampling: dict[str, tuple[str, float]] = {}
        self.batches = 0
        # The running sums of graph statistics, as the store keeps them.
        self.graph: Contribution = {}
        self.committed_seq = 0
        self._documents: dict[str, dict[str, bytes]] = {}
        self._next_rowid = 1

    def load(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """Copies of the stored traces among ``trace_ids``."""
        found = {}
        for trace_id in trace_ids:
            stored = self.traces.get(trace_id)
            if stored is not None:
                sampled_by, probability = self.sampling[trace_id]
                found[trace_id] = StoredTrace(
                    stored.rowid,
                    trace_id,
                    stored.revision,
                    stored.limit_exceeded,
                    list(self._documents[trace_id].values()),
                    sampled_by,
                    probability,
                )
        return found

    def write(
        self,
        writes: Sequence[TraceWrite],
        now: float,
        on_commit: Callable[[], None] | None = None,
        graph: Contribution | None = None,
    ) -> int:
        """Apply every write; documents replace earlier ones with the same id."""
        self.batches += 1
        add_into(self.graph, graph or {})
        for write in writes:
            summary = summary_codec.decode(write.record.summary)
            if write.rowid is None:
                write.rowid = self._next_rowid
                self._next_rowid += 1
            documents = self._documents.setdefault(summary.trace_id, {})
            for doc_id, raw in write.documents:
                documents.pop(doc_id, None)  # re-insert: order is arrival of current versions
                documents[doc_id] = raw
            self.traces[summary.trace_id] = StoredTrace(
                write.rowid, summary.trace_id, summary.revision, summary.limit_exceeded
            )
            self.summaries[summary.trace_id] = summary
            self.sampling[summary.trace_id] = (write.sampled_by, write.probability)
        self.committed_seq = self.batches
        if on_commit is not None:
            on_commit()
        return self.batches

    def documents(self, trace_id: str) -> list[bytes]:
        """The current documents of a trace, in arrival order of their versions."""
        return list(self._documents.get(trace_id, {}).values())
