"""The in-flight trace buffer: revisions, merging, reloading and eviction."""

import threading

import orjson
import pytest

from fluoroscope.errors import StoreError
from fluoroscope.model.trace import Completeness
from fluoroscope.store.store import Store

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
OTHER_TRACE_ID = "1-6b065e19-00000000000000000000beef"
ROOT = "00000000000000a0"
SUB = "00000000000000b0"
STALE = ("fluoroscope_assembly_documents_dropped", "stale_in_progress")
LIMIT = ("fluoroscope_assembly_documents_dropped", "trace_limit_exceeded")
ACCEPTED = ("fluoroscope_assembly_documents_accepted",)
RELOADED = ("fluoroscope_assembly_traces_reloaded",)


@pytest.fixture
def harness(make_harness):
    """An assembler with default limits over a fresh in-memory sink."""
    return make_harness()


@pytest.fixture
def root(make_document):
    """A completed root segment."""
    return make_document(id=ROOT)


@pytest.fixture
def sub(make_document):
    """A completed subsegment streamed under the root."""
    return make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step")


# --- golden captures -------------------------------------------------------------------------


def test_golden_captures_assemble_step_by_step(golden, harness):
    """After each datagram the revision, IsPartial and completeness are the expected ones."""
    expected = [
        (step["Revision"], step["IsPartial"], step["completeness"])
        for step in golden.expected["datagrams"]
    ]

    seen = []
    for body in golden.bodies:
        harness.add(body)
        harness.assembler.flush()
        summary = harness.sink.summaries[golden.expected["trace_id"]]
        seen.append((summary.revision, summary.is_partial, summary.completeness.name))

    assert seen == expected


def test_golden_captures_summarise_to_the_expected_summary(golden, harness):
    """Once every datagram is in, the stored summary is the expected one."""
    harness.add(*golden.bodies)

    harness.assembler.flush()

    golden.assert_summary(harness.summary(golden.expected["trace_id"]))


def test_golden_captures_survive_eviction_between_datagrams(golden, harness, clock):
    """Reloading the trace from the store before every datagram changes nothing."""
    for body in golden.bodies:
        harness.add(body)
        harness.assembler.flush()
        clock.advance(60.0)
        harness.assembler.evict()

    summary = harness.summary(golden.expected["trace_id"])

    golden.assert_summary(summary)
    assert harness.assembler.in_flight == 0


def test_golden_captures_are_stored_byte_for_byte(golden, harness):
    """The store holds each current document exactly as it was received."""
    bodies = golden.bodies
    current = {}
    for body in bodies:
        document = orjson.loads(body)
        if document["id"] not in current or not document.get("in_progress"):
            current.pop(document["id"], None)
            current[document["id"]] = body

    harness.add(*bodies)
    harness.assembler.flush()

    assert harness.sink.documents(golden.expected["trace_id"]) == list(current.values())


def test_golden_streamed_capture_is_one_revision_per_document(golden_named, harness):
    """Eight streamed documents of one trace in one flush make revision 8, in one batch."""
    golden = golden_named("streaming_threshold_1")
    harness.add(*golden.bodies)

    written = harness.assembler.flush()

    assert written == 1
    assert harness.sink.batches == 1
    assert harness.sink.summaries[golden.expected["trace_id"]].revision == 8


# --- revisions and versions ------------------------------------------------------------------


def test_every_accepted_document_adds_a_revision(harness, root, sub):
    """Revision counts the documents that changed the trace, across flushes."""
    harness.add(sub)
    harness.assembler.flush()
    harness.add(root)

    harness.assembler.flush()

    assert harness.sink.summaries[TRACE_ID].revision == 2
    assert harness.counter(*ACCEPTED) == 2


def test_a_resent_document_replaces_the_earlier_copy(harness, root):
    """The last version of an id wins; the store keeps only it."""
    harness.add(root)
    harness.assembler.flush()
    resent = {**root, "end_time": root["end_time"] + 1.0}

    harness.add(resent)
    harness.assembler.flush()

    assert harness.sink.documents(TRACE_ID) == [orjson.dumps(resent)]
    assert harness.sink.summaries[TRACE_ID].revision == 2
    assert harness.sink.summaries[TRACE_ID].duration == pytest.approx(2.0)


def test_a_completed_document_closes_the_in_progress_one(harness, make_document):
    """In progress, then complete: the trace is no longer partial."""
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()

    harness.add(make_document(id=ROOT))
    harness.assembler.flush()

    summary = harness.sink.summaries[TRACE_ID]
    assert not summary.is_partial
    assert summary.completeness is Completeness.COMPLETE


def test_a_late_in_progress_document_never_reopens_a_completed_one(harness, make_document):
    """It is dropped and counted as stale; the revision does not move."""
    harness.add(make_document(id=ROOT))
    harness.assembler.flush()

    result = harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()

    assert result == [None]
    assert harness.counter(*STALE) == 1
    assert harness.sink.summaries[TRACE_ID].revision == 1
    assert not harness.sink.summaries[TRACE_ID].is_partial


def test_documents_of_different_traces_go_to_different_traces(harness, make_document):
    """Each trace id has its own revision and summary."""
    harness.add(make_document(), make_document(trace_id=OTHER_TRACE_ID))

    written = harness.assembler.flush()

    assert written == 2
    assert harness.assembler.in_flight == 2
    assert set(harness.sink.summaries) == {TRACE_ID, OTHER_TRACE_ID}


def test_flush_without_changes_writes_nothing(harness, root):
    """A flush with nothing new returns 0 and makes no batch."""
    harness.add(root)
    harness.assembler.flush()

    written = harness.assembler.flush()

    assert written == 0
    assert harness.sink.batches == 1


def test_flush_calls_back_once_the_batch_is_durable(harness, root):
    """``on_commit`` runs when the sink commits."""
    committed = []
    harness.add(root)

    harness.assembler.flush(lambda: committed.append(True))

    assert committed == [True]
    assert harness.assembler.dirty == 0


# --- ready-only flushes -----------------------------------------------------------------------


def test_a_ready_only_flush_writes_traces_whose_entry_segment_arrived_closed(
    harness, root, sub, make_document
):
    """Only the trace with its closed entry segment is written; the other stays changed."""
    harness.add(sub, root)
    harness.add(make_document(trace_id=OTHER_TRACE_ID, type="subsegment", parent_id=ROOT))

    written = harness.assembler.flush(ready_only=True)

    assert written == 1
    assert set(harness.sink.summaries) == {TRACE_ID}
    assert harness.assembler.ready == 0
    assert harness.assembler.dirty == 1


def test_the_traces_a_ready_only_flush_leaves_are_written_by_the_next_full_flush(
    harness, make_document
):
    """A trace without its entry segment, or with it still open, waits for a full flush."""
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.add(make_document(trace_id=OTHER_TRACE_ID, type="subsegment", parent_id=ROOT))

    assert harness.assembler.ready == 0
    assert harness.assembler.flush(ready_only=True) == 0
    assert harness.assembler.flush() == 2
    assert set(harness.sink.summaries) == {TRACE_ID, OTHER_TRACE_ID}
    assert harness.assembler.dirty == 0


def test_a_ready_trace_changed_again_is_written_again(harness, root, sub):
    """A document after the entry segment changes the trace again: the next flush writes it."""
    harness.add(root)
    harness.assembler.flush(ready_only=True)

    harness.add(sub)
    harness.assembler.flush(ready_only=True)
    assert harness.sink.summaries[TRACE_ID].revision == 1
    harness.assembler.flush()

    assert harness.sink.summaries[TRACE_ID].revision == 2
    assert harness.counter(*ACCEPTED) == 2


def test_pending_bytes_count_exactly_what_is_not_written(harness, root, sub, make_document):
    """Written documents leave the count; documents of traces left for later stay in it."""
    other = make_document(trace_id=OTHER_TRACE_ID, type="subsegment", parent_id=ROOT)
    harness.add(root, sub, other)
    other_size = len(orjson.dumps(other))

    harness.assembler.flush(ready_only=True)
    assert harness.assembler.pending_bytes == other_size

    harness.assembler.flush()
    assert harness.assembler.pending_bytes == 0


def test_a_batch_the_store_refused_is_counted_in_the_graph_once_written(harness, root):
    """The retry carries the trace's whole contribution, not the difference from the failure."""
    harness.add(root)
    sink = harness.sink
    real_write = sink.write

    def refuse(*args, **kwargs):
        raise StoreError("disk full")

    sink.write = refuse
    with pytest.raises(StoreError):
        harness.assembler.flush()
    sink.write = real_write

    assert harness.assembler.flush() == 1
    node = next(key for key in sink.graph if key[1] == "n")
    assert sink.graph[node][4] == 1.0  # one visit, counted once
    assert harness.assembler.pending_bytes == 0


# --- reloading -------------------------------------------------------------------------------


def test_a_late_document_after_eviction_continues_the_stored_trace(harness, clock, root, sub):
    """The trace is reloaded: the revision goes on and the earlier documents are merged."""
    harness.add(root)
    harness.assembler.flush()
    clock.advance(60)
    harness.assembler.evict()

    harness.add(sub)
    harness.assembler.flush()

    summary = harness.sink.summaries[TRACE_ID]
    assert harness.assembler.in_flight == 1
    assert harness.counter(*RELOADED) == 1
    assert summary.revision == 2
    assert summary.completeness is Completeness.COMPLETE
    assert harness.sink.traces[TRACE_ID].rowid == 1
    assert len(harness.sink.documents(TRACE_ID)) == 2


def test_a_new_assembler_over_the_same_store_continues_a_trace(make_harness, root, sub):
    """After a restart, the trace picks up where the store left it."""
    before = make_harness()
    before.add(sub)
    before.assembler.flush()
    after = make_harness(sink=before.sink)

    after.add(root)
    after.assembler.flush()

    summary = after.sink.summaries[TRACE_ID]
    assert summary.revision == 2
    assert summary.completeness is Completeness.COMPLETE
    assert after.sink.traces[TRACE_ID].rowid == 1
    assert after.counter(*RELOADED) == 1


def test_a_reloaded_trace_keeps_annotations_of_stored_documents(make_harness, make_document):
    """The summary after a reload sees what the store held."""
    before = make_harness()
    before.add(make_document(id=ROOT, annotations={"customer": "acme"}))
    before.assembler.flush()
    after = make_harness(sink=before.sink)

    after.add(make_document(type="subsegment", parent_id=ROOT, annotations={"step": 2}))
    after.assembler.flush()

    assert set(after.summary()["Annotations"]) == {"customer", "step"}


def test_a_late_in_progress_document_after_a_restart_does_not_reopen_the_trace(
    make_harness, make_document
):
    """The stored completed version still wins, and the revision stays."""
    before = make_harness()
    before.add(make_document(id=ROOT))
    before.assembler.flush()
    after = make_harness(sink=before.sink)

    after.add(make_document(id=ROOT, in_progress=True))
    after.assembler.flush()

    summary = after.sink.summaries[TRACE_ID]
    assert summary.revision == 1
    assert not summary.is_partial
    assert after.counter(*STALE) == 1


def test_a_late_in_progress_document_after_a_restart_is_not_counted_as_accepted(
    make_harness, make_document
):
    """A document is either merged or dropped, never counted as both."""
    before = make_harness()
    before.add(make_document(id=ROOT))
    before.assembler.flush()
    after = make_harness(sink=before.sink)

    after.add(make_document(id=ROOT, in_progress=True))
    after.assembler.flush()

    assert after.counter(*STALE) + after.counter(*ACCEPTED) == 1


# --- eviction --------------------------------------------------------------------------------


def test_a_complete_trace_is_evicted_after_lingering(harness, clock, root):
    """Complete traces leave memory once the linger time has passed."""
    harness.add(root)
    harness.assembler.flush()
    clock.advance(2.0)

    harness.assembler.evict()

    assert harness.assembler.in_flight == 0
    assert harness.assembler.held_bytes == 0
    assert harness.evicted("complete") == 1


def test_a_complete_trace_lingers_before_eviction(harness, clock, root):
    """A just-completed trace stays in memory for late subsegments."""
    harness.add(root)
    harness.assembler.flush()
    clock.advance(0.25)

    harness.assembler.evict()

    assert harness.assembler.in_flight == 1
    assert harness.evicted("complete") == 0


def test_an_in_progress_trace_stays_until_idle(harness, clock, make_document):
    """An open trace is kept until nothing has arrived for the idle timeout."""
    harness.add(make_document(in_progress=True))
    harness.assembler.flush()
    clock.advance(29.0)
    harness.assembler.evict()
    kept = harness.assembler.in_flight

    clock.advance(1.0)
    harness.assembler.evict()

    assert kept == 1
    assert harness.assembler.in_flight == 0
    assert harness.evicted("idle") == 1


def test_an_incomplete_trace_is_evicted_when_idle(harness, clock, sub):
    """An orphan-only trace goes once idle."""
    harness.add(sub)
    harness.assembler.flush()
    clock.advance(30.0)

    harness.assembler.evict()

    assert harness.evicted("idle") == 1
    assert harness.evicted("complete") == 0


def test_too_many_traces_evicts_the_oldest_under_pressure(make_harness, clock, make_document):
    """Over max_traces, the least recently updated trace goes first."""
    harness = make_harness(max_traces=2)
    trace_ids = [f"1-6b065e19-{n:024x}" for n in (1, 2, 3)]
    for trace_id in trace_ids:
        harness.add(make_document(trace_id=trace_id, in_progress=True))
        clock.advance(0.1)
    harness.assembler.flush()

    harness.assembler.evict()
    harness.add(make_document(trace_id=trace_ids[0], in_progress=True))
    harness.assembler.flush()

    assert harness.evicted("pressure") == 1
    assert harness.counter(*RELOADED) == 1  # only an evicted trace is reloaded


def test_too_many_bytes_evicts_under_pressure(make_harness, make_document):
    """Over max_bytes, traces are evicted until the buffer fits."""
    harness = make_harness(max_bytes=1)
    harness.add(make_document(in_progress=True), make_document(trace_id=OTHER_TRACE_ID))
    harness.assembler.flush()

    harness.assembler.evict()

    assert harness.assembler.in_flight == 0
    assert harness.assembler.held_bytes == 0
    assert harness.evicted("pressure") == 2


def test_unwritten_traces_are_never_evicted(make_harness, clock, root):
    """A trace whose changes are not stored yet stays, whatever the pressure."""
    harness = make_harness(max_traces=0)
    harness.add(root)
    clock.advance(3600)

    harness.assembler.evict()

    assert harness.assembler.in_flight == 1
    assert harness.evicted("pressure") + harness.evicted("idle") == 0


# --- limits ----------------------------------------------------------------------------------


def test_a_trace_over_max_trace_bytes_is_marked_limit_exceeded(make_harness, root, sub):
    """The document that crosses the limit is kept, and the summary says LimitExceeded."""
    harness = make_harness(max_trace_bytes=len(orjson.dumps(root)))
    harness.add(root)

    result = harness.add(sub)
    harness.assembler.flush()

    assert result == [None]
    assert harness.sink.summaries[TRACE_ID].limit_exceeded
    assert len(harness.sink.documents(TRACE_ID)) == 2


def test_documents_beyond_the_limit_are_refused_and_counted(make_harness, make_document, root):
    """Once over the limit, further documents of the trace are refused."""
    harness = make_harness(max_trace_bytes=1)
    harness.add(root)

    result = harness.add(make_document(type="subsegment", parent_id=ROOT))
    harness.assembler.flush()

    assert result == ["TraceLimitExceeded"]
    assert harness.counter(*LIMIT) == 1
    assert harness.sink.summaries[TRACE_ID].revision == 1


def test_the_limit_holds_after_the_trace_leaves_memory(make_harness, clock, make_document, root):
    """Documents of a trace over its limit are refused after it is evicted, as before: else a
    trace whose documents trickle in would grow without bound."""
    harness = make_harness(max_trace_bytes=1)
    harness.add(root)
    harness.assembler.flush()
    clock.advance(60)
    harness.assembler.evict()

    result = harness.add(make_document(type="subsegment", parent_id=ROOT))
    harness.assembler.flush()

    assert result == ["TraceLimitExceeded"]
    assert harness.counter(*LIMIT) == 1
    assert harness.sink.summaries[TRACE_ID].revision == 1
    assert harness.assembler.in_flight == 0


def test_the_limit_is_found_in_the_store_after_a_restart(make_harness, make_document, root):
    """A new assembler (a restarted collector) reads the trace's limit from the store with its
    first new document, and refuses the ones after it."""
    first = make_harness(max_trace_bytes=1)
    first.add(root)
    first.assembler.flush()
    restarted = make_harness(sink=first.sink, max_trace_bytes=1)

    restarted.add(make_document(type="subsegment", parent_id=ROOT))
    restarted.assembler.flush()
    result = restarted.add(make_document(type="subsegment", parent_id=ROOT))

    assert first.sink.summaries[TRACE_ID].limit_exceeded
    assert result == ["TraceLimitExceeded"]


@pytest.fixture
def open_store(tmp_path):
    """Open SQLite stores over one data directory; each is closed afterwards."""
    stores = []

    def make():
        store = Store(tmp_path / "data")
        store.open()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def flush_and_wait(harness):
    """Flush and wait until the batch is durable."""
    committed = threading.Event()
    harness.assembler.flush(committed.set)
    assert committed.wait(5.0)


def test_a_restart_over_the_sqlite_store_continues_a_trace(open_store, make_harness, root, sub):
    """What SQLite returns after a restart is merged like what the in-memory sink returns."""
    before = make_harness(sink=open_store())
    before.add(sub)
    flush_and_wait(before)
    before.sink.close()
    after = make_harness(sink=open_store())

    after.add(root)
    flush_and_wait(after)

    (stored,) = after.sink.load([TRACE_ID]).values()
    assert stored.revision == 2
    assert [orjson.loads(raw)["id"] for raw in stored.documents] == [SUB, ROOT]
    assert after.counter(*RELOADED) == 1
