"""The pipeline thread's flush cadence: finished traces early, everything on the interval."""

import time

import orjson
import pytest

from fluoroscope.app.feed import Feed, RawBatch
from fluoroscope.app.pipeline import READY_FLUSH_INTERVAL_S, Pipeline
from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.store.spool import Spool
from fluoroscope.telemetry import Registry

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
OTHER_TRACE_ID = "1-6b065e19-00000000000000000000beef"
# Long enough that no full flush happens while a test looks.
LONG_INTERVAL_S = 60.0


@pytest.fixture
def running():
    """A pipeline over an in-memory sink whose full flushes are a minute apart."""
    sink = InMemoryTraceSink()
    registry = Registry()
    feed = Feed(max_documents=1_000, max_bytes=1 << 20)
    pipeline = Pipeline(feed, Assembler(sink, registry), registry, flush_interval_s=LONG_INTERVAL_S)
    pipeline.start()
    yield feed, sink, pipeline
    feed.close()
    pipeline.stop(timeout=5.0)


def _offer(feed: Feed, *documents: dict[str, object]) -> None:
    raws = [orjson.dumps(document) for document in documents]
    assert feed.offer(RawBatch("test", raws, sum(map(len, raws))), len(raws))


def _segment(trace_id: str, **fields: object) -> dict[str, object]:
    now = time.time()
    return {
        "id": "00000000000000a0",
        "trace_id": trace_id,
        "name": "svc",
        "start_time": now - 1.0,
        "end_time": now,
        **fields,
    }


def test_a_finished_trace_is_written_long_before_the_flush_interval(running, wait_until):
    """Its closed entry segment makes it ready: written within a few ready intervals."""
    feed, sink, _ = running
    started = time.monotonic()

    _offer(feed, _segment(TRACE_ID))

    assert wait_until(lambda: TRACE_ID in sink.summaries)
    assert time.monotonic() - started < LONG_INTERVAL_S / 10
    assert READY_FLUSH_INTERVAL_S < LONG_INTERVAL_S


def test_an_unfinished_trace_waits_for_the_full_flush(running, wait_until):
    """A subsegment without its segment is not ready; stopping flushes everything."""
    feed, sink, pipeline = running
    _offer(
        feed,
        _segment(
            OTHER_TRACE_ID, id="00000000000000b0", type="subsegment", parent_id="0" * 15 + "1"
        ),
        _segment(TRACE_ID),
    )
    assert wait_until(lambda: TRACE_ID in sink.summaries)

    assert OTHER_TRACE_ID not in sink.summaries
    feed.close()  # as the collector stops: receivers first, then the pipeline drains
    pipeline.stop(timeout=5.0)
    assert OTHER_TRACE_ID in sink.summaries


class _FailsOnce(InMemoryTraceSink):
    """A sink whose first write raises what no store error is: a bug on the way."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def write(self, writes, now, on_commit, graph=None):
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug in writing")
        return super().write(writes, now, on_commit, graph)


def test_a_flush_that_fails_on_a_bug_costs_its_changes_not_the_pipeline(wait_until):
    """The failed flush's traces are dropped and counted; later documents are stored."""
    sink = _FailsOnce()
    registry = Registry()
    feed = Feed(max_documents=1_000, max_bytes=1 << 20)
    pipeline = Pipeline(feed, Assembler(sink, registry), registry, flush_interval_s=LONG_INTERVAL_S)
    pipeline.start()
    try:
        _offer(feed, _segment(OTHER_TRACE_ID))
        assert wait_until(lambda: sink.failed)
        _offer(feed, _segment(TRACE_ID))
        assert wait_until(lambda: TRACE_ID in sink.summaries)
    finally:
        feed.close()
        pipeline.stop(timeout=5.0)

    assert pipeline.alive is False
    assert OTHER_TRACE_ID not in sink.summaries
    assert registry.value("fluoroscope_pipeline_batches_failed") == 1
    assert registry.value("fluoroscope_assembly_traces_failed") == 1


def test_datagrams_over_the_trace_limit_are_counted_as_refused_not_accepted(wait_until):
    """UDP refusals are counted as the API's are: by X-Ray error code, not as accepted."""
    sink = InMemoryTraceSink()
    registry = Registry()
    feed = Feed(max_documents=1_000, max_bytes=1 << 20)
    assembler = Assembler(sink, registry, AssemblyLimits(max_trace_bytes=1))
    pipeline = Pipeline(feed, assembler, registry, flush_interval_s=LONG_INTERVAL_S)
    pipeline.start()
    try:
        # The first document takes the trace past its limit and is kept; later ones are not.
        _offer(feed, *(_segment(TRACE_ID, id=f"{n:016x}", in_progress=True) for n in range(3)))

        assert wait_until(
            lambda: (
                registry.value("fluoroscope_documents_refused", "test", "TraceLimitExceeded") == 2
            )
        )
        assert registry.value("fluoroscope_documents_accepted", "test") == 1
    finally:
        feed.close()
        pipeline.stop(timeout=5.0)


def test_spool_files_are_deleted_once_what_they_held_is_stored(tmp_path, wait_until):
    """The pipeline tells the spool when a full flush has stored what it read: only then may
    a file read whole go (a crash before would lose it)."""
    spool = Spool(tmp_path, 1 << 30, Registry(), "udp")
    spool.open()
    sink = InMemoryTraceSink()
    registry = Registry()
    feed = Feed(max_documents=3, max_bytes=1 << 20, overflow=("udp", spool))
    traces = [f"1-6b065e19-{n:024x}" for n in range(1, 41)]
    for trace in traces:  # the feed takes the first; the rest wait in the spool, in files
        raw = orjson.dumps(_segment(trace))
        assert feed.offer(RawBatch("udp", [raw] * 3, 3 * len(raw)), 3)
    spool.close()  # written out: the pipeline reads them from a fresh spool, as after a stop
    spool = Spool(tmp_path, 1 << 30, Registry(), "udp")
    assert spool.open() > 0
    feed = Feed(max_documents=100, max_bytes=1 << 20, overflow=("udp", spool))
    pipeline = Pipeline(feed, Assembler(sink, registry), registry, flush_interval_s=0.05)
    pipeline.start()
    try:
        assert wait_until(lambda: all(trace in sink.summaries for trace in traces[1:]))
        assert wait_until(lambda: not list(tmp_path.glob("*.spool")))
    finally:
        feed.close()
        pipeline.stop(timeout=5.0)
