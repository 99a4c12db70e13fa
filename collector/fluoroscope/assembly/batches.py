"""Flushes between choosing their traces and writing them, and the order they are written in.

A flush whose summaries a helper process makes waits here (:class:`Batches`) while the
pipeline thread goes on taking documents. Waiting batches are written oldest first; a trace in
one is left out of later ones until it is written; and commit callbacks never run before the
documents they may acknowledge are durable: a flush that writes nothing runs its callbacks
behind the batches before it, and a refused batch's callbacks are carried to the flush that
writes its traces again.
"""

from collections import deque
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field

from fluoroscope.assembly.in_flight import InFlightTrace
from fluoroscope.assembly.summaries import Pending, Summarized
from fluoroscope.errors import StoreError
from fluoroscope.model.segment import Document
from fluoroscope.model.statistics import Contribution
from fluoroscope.store.store import TraceSink
from fluoroscope.store.types import TraceWrite

# Deferred batches that may wait for their summaries at once: one being summarised by the
# helpers while the next is handed to them, so that they never wait for the pipeline thread.
MAX_DEFERRED = 2

Callback = Callable[[], None]


@dataclass
class Batch:
    """One flush between choosing its traces and writing them."""

    callbacks: list[Callback]
    written: list[bytes] | None
    graph: Contribution = field(default_factory=dict)
    # Traces with the documents the flush writes for them (those pending when it began):
    # written before (summarised here), and written for the first time (summarised by
    # ``summaries``).
    here: list[tuple[InFlightTrace, list[Document]]] = field(default_factory=list)
    first: list[tuple[InFlightTrace, list[Document]]] = field(default_factory=list)
    summaries: Pending = field(default_factory=lambda: Pending(list))
    done: list[tuple[InFlightTrace, list[Document], Summarized]] = field(default_factory=list)

    def traces(self) -> list[InFlightTrace]:
        """Every trace the batch writes (or was to write)."""
        return [trace for trace, _ in self.here + self.first]


class Batches:
    """The deferred batches, oldest first, and the sink's batch order for commit callbacks."""

    def __init__(self, sink: TraceSink, now: Callable[[], float]) -> None:
        self._sink = sink
        self._now = now
        self._queue: deque[Batch] = deque()
        # The traces of the deferred batches, by id.
        self.writing: dict[str, InFlightTrace] = {}
        # Commit callbacks of batches the store refused, for the batch that writes them.
        self.carried: list[Callback] = []
        # The last batch handed to the sink.
        self._last_seq = 0

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> bool:
        """Whether :data:`MAX_DEFERRED` batches wait."""
        return len(self._queue) >= MAX_DEFERRED

    def defer(self, batch: Batch) -> None:
        """Queue a batch behind the others, even one whose summaries are made already."""
        for trace in batch.traces():
            self.writing[trace.trace_id] = trace
        self._queue.append(batch)

    def next(self, wait: bool) -> Batch | None:
        """The oldest batch, taken off the queue, if its summaries are made (or ``wait``)."""
        if self._queue and (wait or self._queue[0].summaries.ready()):
            return self._queue.popleft()
        return None

    def finished(self, batch: Batch) -> None:
        """Its traces may go into later batches again."""
        for trace in batch.traces():
            self.writing.pop(trace.trace_id, None)

    def drain(self) -> list[Batch]:
        """Every waiting batch, taken off the queue (to be abandoned)."""
        batches = list(self._queue)
        self._queue.clear()
        self.writing.clear()
        return batches

    def unwritten(self, changed: Container[str]) -> Container[str]:
        """Trace ids changed or in a waiting batch: not written yet either way."""
        return _Either(changed, self.writing)

    def write(
        self, writes: Sequence[TraceWrite], callbacks: list[Callback], graph: Contribution
    ) -> int:
        """Hand a batch to the sink; its sequence number."""
        self._last_seq = self._sink.write(writes, self._now(), _all(callbacks), graph)
        return self._last_seq

    def after_earlier(self, callbacks: list[Callback], *, behind_deferred: bool) -> None:
        """Run the commit callbacks of a flush that writes nothing once the batches handed to
        the sink before it (and, ``behind_deferred``, the waiting ones) are durable: the
        documents they acknowledge may be in those. Raises StoreError, the callbacks carried."""
        if not callbacks:
            return
        if behind_deferred and self._queue:
            self._queue[-1].callbacks.extend(callbacks)  # the last batch to be written
        elif self._sink.committed_seq >= self._last_seq:
            for callback in callbacks:
                callback()
        else:  # an empty batch commits after the others
            try:
                self.write([], callbacks, {})
            except StoreError:
                self.carried[:0] = callbacks
                raise


class _Either:
    """Keys in either of two containers (without building their union)."""

    __slots__ = ("_one", "_other")

    def __init__(self, one: Container[str], other: Container[str]) -> None:
        self._one = one
        self._other = other

    def __contains__(self, key: object) -> bool:
        return key in self._one or key in self._other


def _all(callbacks: list[Callback]) -> Callback | None:
    """One callable that runs ``callbacks`` in order (None for none)."""
    if not callbacks:
        return None

    def run() -> None:
        for callback in callbacks:
            callback()

    return run
