"""Deferred flushes: batches whose summaries helper processes make while documents keep coming.

The helpers are stood in for by futures the tests complete: a deferred batch is written only
once its summaries are made, batches are written in the order they were made, and what arrives
for a trace in between is written by a later batch.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import Future

import pytest

from fluoroscope.assembly.batches import MAX_DEFERRED
from fluoroscope.assembly.summaries import Pending, Revision, Summaries
from fluoroscope.errors import StoreError
from fluoroscope.model.statistics import Contribution
from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.telemetry import Registry

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
OTHER_TRACE_ID = "1-6b065e19-00000000000000000000beef"
THIRD_TRACE_ID = "1-6b065e19-00000000000000000000cafe"
ROOT = "00000000000000a0"
SUB = "00000000000000b0"


class HeldSummaries(Summaries):
    """Summarises in this process, but a deferred batch only once the test releases it, as
    if a helper process had it."""

    def __init__(self, classify: Callable[..., list[str]]) -> None:
        super().__init__(0, Registry(), classify)
        self.held: list[Future[bytes]] = []
        # Off: batches are summarised at once, as a flush too small to share would be.
        self.holding = True

    def start(
        self, revisions: Sequence[Revision], graph: Contribution, *, share_all: bool = False
    ) -> Pending:
        if not share_all or not revisions or not self.holding:
            return super().start(revisions, graph)
        future: Future[bytes] = Future()
        self.held.append(future)
        return Pending(lambda: self._here(revisions, graph), [future])

    def release(self, count: int | None = None) -> None:
        """Let the oldest ``count`` held batches (all by default) be collected."""
        waiting = [future for future in self.held if not future.done()]
        for future in waiting[:count]:
            future.set_result(b"")


class FailingSink(InMemoryTraceSink):
    """Refuses writes while ``failing`` is set."""

    failing = False

    def write(self, writes, now, on_commit=None, graph=None):
        if self.failing:
            raise StoreError("disk I/O error")
        return super().write(writes, now, on_commit, graph)


@pytest.fixture
def held(make_harness):
    """An assembler whose deferred batches wait for the test."""

    def make(sink=None):
        harness = make_harness(sink)
        summaries = HeldSummaries(harness.assembler._classify)
        harness.assembler.summaries = summaries
        return harness, summaries

    return make


def test_a_deferred_batch_is_written_once_its_summaries_are_made(held, make_document):
    harness, summaries = held()
    harness.add(make_document(id=ROOT))

    assert harness.assembler.flush(defer=True) == 1
    assert not harness.assembler.busy  # one waits, below the bound
    assert harness.assembler.waiting == 1
    assert harness.assembler.dirty == 1
    assert not harness.assembler.collect()  # not summarised yet
    assert TRACE_ID not in harness.sink.summaries

    summaries.release()
    assert harness.assembler.collect()

    assert TRACE_ID in harness.sink.summaries
    assert harness.assembler.collect() is False  # nothing left to write
    assert harness.assembler.waiting == 0
    assert harness.assembler.dirty == 0
    assert harness.counter("fluoroscope_assembly_documents_accepted") == 1


def test_documents_arriving_meanwhile_are_written_by_a_later_batch(held, make_document):
    """The trace of a waiting batch is left out of the next one, then written whole."""
    harness, summaries = held()
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(defer=True)
    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step"))
    harness.add(make_document(trace_id=OTHER_TRACE_ID))

    assert harness.assembler.flush(defer=True) == 1  # the other trace only
    summaries.release()
    assert harness.assembler.collect()
    assert harness.summary()["Revision"] == 1  # the first batch's revision: root alone

    assert harness.assembler.flush() == 1  # now the late subsegment
    assert harness.summary()["Revision"] == 2
    assert set(harness.sink._documents[TRACE_ID]) == {ROOT, SUB}
    assert OTHER_TRACE_ID in harness.sink.summaries
    assert harness.assembler.dirty == 0
    assert harness.counter("fluoroscope_assembly_documents_accepted") == 3


def test_a_document_replaced_while_its_batch_waits_is_counted_once(held, make_document):
    harness, summaries = held()
    harness.add(make_document(id=ROOT, end_time=None, in_progress=True))
    harness.assembler.flush(defer=True)
    harness.add(make_document(id=ROOT))  # the completed version

    summaries.release()
    harness.assembler.collect()
    assert harness.summary()["IsPartial"] is True
    harness.assembler.flush()

    assert harness.summary()["IsPartial"] is False
    assert harness.counter("fluoroscope_assembly_documents_accepted") == 2
    assert harness.assembler.pending_bytes == 0


def test_batches_are_written_in_the_order_they_were_made(held, make_document):
    """A batch made later, even one summarised at once, waits behind the deferred one."""
    harness, summaries = held()
    order: list[str] = []
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(lambda: order.append("first"), defer=True)
    summaries.holding = False
    harness.add(make_document(trace_id=OTHER_TRACE_ID))
    harness.assembler.flush(lambda: order.append("second"), defer=True)

    assert order == []
    assert harness.sink.summaries == {}
    summaries.release()
    harness.assembler.collect()

    assert order == ["first", "second"]


def test_a_flush_with_nothing_to_write_answers_after_the_waiting_batch(held, make_document):
    """Its callbacks may acknowledge documents the waiting batch writes."""
    harness, summaries = held()
    order: list[str] = []
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(lambda: order.append("batch"), defer=True)

    harness.assembler.flush(lambda: order.append("nothing to write"), defer=True)
    assert order == []

    summaries.release()
    harness.assembler.collect()
    assert order == ["batch", "nothing to write"]


def test_at_most_max_deferred_batches_wait(held, make_document):
    """A flush beyond the bound writes the oldest batch first, waiting for its summaries."""
    harness, summaries = held()
    for n in range(MAX_DEFERRED):
        harness.add(make_document(trace_id=f"1-6b065e19-{n + 1:024x}"))
        harness.assembler.flush(defer=True)
    assert harness.assembler.busy
    summaries.release()  # as the helpers answer while the flush waits for them

    harness.add(make_document(trace_id=THIRD_TRACE_ID))
    harness.assembler.flush(defer=True)

    assert len(harness.sink.summaries) == MAX_DEFERRED - 1 + 1  # oldest written, then one more
    assert not harness.assembler.busy


def test_a_synchronous_flush_writes_the_deferred_batches_first(held, make_document):
    harness, summaries = held()
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(defer=True)
    summaries.release()
    harness.add(make_document(trace_id=OTHER_TRACE_ID))

    assert harness.assembler.flush() == 1

    assert {TRACE_ID, OTHER_TRACE_ID} <= set(harness.sink.summaries)
    assert harness.sink.batches == 2


def test_a_trace_in_a_waiting_batch_is_not_evicted(held, make_document, clock):
    harness, summaries = held()
    harness.add(make_document(id=ROOT, end_time=None, in_progress=True))
    harness.assembler.flush(defer=True)

    clock.advance(3600)  # idle for far longer than the idle timeout
    harness.assembler.evict()
    assert harness.assembler.in_flight == 1

    summaries.release()
    harness.assembler.collect()
    harness.assembler.evict()
    assert harness.assembler.in_flight == 0
    assert TRACE_ID in harness.sink.summaries


def test_a_refused_deferred_batch_is_written_by_the_next_flush(held, make_document):
    """Its traces are changed again, and its callbacks wait for the batch that writes them."""
    sink = FailingSink()
    harness, summaries = held(sink)
    acked: list[bool] = []
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(lambda: acked.append(True), defer=True)
    summaries.release()
    sink.failing = True

    with pytest.raises(StoreError):
        harness.assembler.collect()
    assert acked == []
    assert harness.assembler.dirty == 1

    sink.failing = False
    harness.assembler.flush()
    assert acked == [True]
    assert TRACE_ID in sink.summaries
    assert harness.counter("fluoroscope_assembly_documents_accepted") == 1


def test_abandoning_counts_the_traces_of_waiting_batches_as_failed(held, make_document):
    harness, _ = held()
    harness.add(make_document(id=ROOT))
    harness.assembler.flush(defer=True)

    harness.assembler.abandon()

    assert harness.assembler.waiting == 0
    assert harness.assembler.dirty == 0
    assert harness.counter("fluoroscope_assembly_traces_failed") == 1


def test_an_acknowledgement_waits_for_documents_of_a_trace_in_a_waiting_batch(held, make_document):
    """The trace is left out of the batches made while its batch waits; a flush that
    acknowledges documents writes the waiting batches first, so that it covers them all."""
    harness, summaries = held()
    stored_when_acked: list[bool] = []

    def ack() -> None:
        stored_when_acked.append(SUB in harness.sink._documents.get(TRACE_ID, {}))

    harness.add(make_document(id=ROOT))
    harness.assembler.flush(defer=True)
    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step"))
    harness.assembler.flush(ack, defer=True, acknowledges=True)
    summaries.release()
    harness.assembler.collect()

    assert stored_when_acked == [True]


def test_a_refused_acknowledgement_waits_for_a_flush_that_writes_everything(held, make_document):
    """Refused, its traces are changed again: a flush of only the ready traces does not
    answer it."""
    sink = FailingSink()
    harness, summaries = held(sink)
    summaries.holding = False
    acked: list[bool] = []
    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step"))
    sink.failing = True
    with pytest.raises(StoreError):
        harness.assembler.flush(lambda: acked.append(True), defer=True, acknowledges=True)
    sink.failing = False
    harness.add(make_document(trace_id=OTHER_TRACE_ID))  # ready: its entry segment is closed

    harness.assembler.flush(ready_only=True, defer=True)
    assert acked == []
    harness.assembler.flush(defer=True)
    assert acked == [True]
    assert SUB in sink._documents[TRACE_ID]
