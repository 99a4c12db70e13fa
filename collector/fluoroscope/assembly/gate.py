"""The sampling gate: head and tail sampling together, their verdicts remembered and counted.

The assembler asks the gate about each trace before writing it. A trace is written only once
it is kept; until then it waits in memory (for its entry segment, for head sampling; for
completeness, for tail sampling), at most the decision wait. Its verdict records the rule that
decided and the probability it had of being kept: the product of the head and tail stages'.
"""

from collections.abc import Iterable

from fluoroscope.assembly.decisions import DecisionMemory, Verdict
from fluoroscope.assembly.head_sampling import HeadSampler
from fluoroscope.assembly.tail_sampling import TailSampler
from fluoroscope.model.segment import Document
from fluoroscope.telemetry import Registry


class SamplingGate:
    """Decides traces by an optional head and an optional tail sampler."""

    def __init__(
        self,
        registry: Registry,
        *,
        head: HeadSampler | None = None,
        tail: TailSampler | None = None,
        wait_s: float = 10.0,
        memory: int = 100_000,
    ) -> None:
        self.head = head
        self.tail = tail
        self.wait_s = wait_s
        self.memory = DecisionMemory(memory)
        self._traces = registry.counter(
            "fluoroscope_sampling_traces",
            "Traces decided by the collector's sampling, by stage, rule and verdict",
            ("stage", "rule", "verdict"),
        )
        self._documents = registry.counter(
            "fluoroscope_sampling_documents_dropped",
            "Documents not stored because their trace was sampled out, by stage",
            ("stage",),
        )

    def remembered(self, trace_id: str) -> Verdict | None:
        """The verdict on ``trace_id`` if it was dropped and that is still remembered."""
        return self.memory.get(trace_id)

    def decide_head(
        self, trace_id: str, documents: Iterable[Document], waited: bool
    ) -> Verdict | None:
        """The head stage's verdict, or None to wait (only called with a head sampler)."""
        assert self.head is not None
        verdict = self.head.decide(trace_id, documents, waited)
        if verdict is not None:
            self._count(verdict)
        return verdict

    def decided_tail(self, verdict: Verdict) -> None:
        """Count a verdict of the tail stage (made where the trace was summarised)."""
        self._count(verdict)

    def dropped(self, trace_id: str, verdict: Verdict, documents: int) -> None:
        """Remember a trace dropped with ``documents`` documents in hand."""
        self.memory.remember(trace_id, verdict)
        self._documents.child(verdict.stage).inc(documents)

    def dropped_late(self, verdict: Verdict) -> None:
        """Count a document of a trace dropped earlier."""
        self._documents.child(verdict.stage).inc()

    def _count(self, verdict: Verdict) -> None:
        self._traces.child(verdict.stage, verdict.rule, "kept" if verdict.kept else "dropped").inc()
