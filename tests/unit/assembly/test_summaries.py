"""Summarising a flush's traces on helper processes gives what summarising them here gives."""

import os
import signal
import time
from typing import Any

import orjson
import pytest

from fluoroscope.assembly.decisions import HEAD, TAIL, Verdict
from fluoroscope.assembly.summaries import (
    MAX_FAILURES_IN_A_ROW,
    Revision,
    Summaries,
    Summarized,
    TailCall,
    Withheld,
    recount,
)
from fluoroscope.assembly.tail_sampling import NO_RULE, TailSampler, parse_rules
from fluoroscope.filters.groups import Classifier, GroupDefinition
from fluoroscope.model.statistics import Contribution
from fluoroscope.model.summary import TraceSummary
from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document
from tests.unit.conftest import SCENARIOS, TRACE_ID, load_golden

FAILURES = ("fluoroscope_summary_helper_failures",)
GROUPS: tuple[GroupDefinition, ...] = (
    ("slow", "arn:aws:xray:us-east-1:000000000000:group/slow/1", "responsetime > 0.5"),
    ("faults", "arn:aws:xray:us-east-1:000000000000:group/faults/2", "fault"),
    ("everything", "arn:aws:xray:us-east-1:000000000000:group/everything/3", None),
    ("unparsable", "arn:aws:xray:us-east-1:000000000000:group/unparsable/4", "((("),
)


def classify(summary: TraceSummary) -> list[str]:
    return ["", *Classifier(GROUPS)(summary)]


def revisions(make_document: Any, count: int) -> list[Revision]:
    """Every golden capture as a trace, then ``count`` traces of a root and a subsegment."""
    out = [
        Revision(
            TRACE_ID,
            3,
            False,
            1.0,
            [d.raw for d in load_golden(name).documents()],
        )
        for name in SCENARIOS
    ]
    for n in range(count):
        trace_id = f"1-6b065e19-{n + 1:024x}"
        root = make_document(trace_id=trace_id, end_time=1795579417.0 + n % 7 / 10)
        if n % 3 == 0:
            root["fault"] = True
            root["http"] = {"response": {"status": 500}}
        sub = make_document(
            trace_id=trace_id,
            type="subsegment",
            parent_id=root["id"],
            name="db",
            namespace="remote",
        )
        segments = [d.raw for raw in (root, sub) for d in parse_document(orjson.dumps(raw))]
        out.append(Revision(trace_id, 1 + n % 2, n % 5 == 0, 1.0 + n % 4, segments))
    return out


def same_graph(actual: Contribution, expected: Contribution) -> bool:
    """Equal statistics, up to floating-point summation order."""
    return actual.keys() == expected.keys() and all(
        actual[key] == pytest.approx(expected[key]) for key in expected
    )


def warm(summaries: Summaries) -> None:
    """Start the helpers and wait until they answer (a flush does not wait for them)."""
    assert summaries.warm_up(60)


def run(
    summaries: Summaries, batch: list[Revision]
) -> tuple[list[Summarized | None], Contribution]:
    graph: Contribution = {}
    results = summaries.start(batch, graph)()
    return results, graph


@pytest.fixture
def shared():
    """Summaries with one helper process that shares any flush of two or more traces."""
    registry = Registry()
    summaries = Summaries(1, registry, classify, lambda: GROUPS, min_shared=2)
    warm(summaries)
    yield summaries, registry
    summaries.shutdown()


def test_helpers_make_the_same_records_groups_and_graph(shared, make_document):
    """Records, groups and the batch's graph statistics are those made on the pipeline thread."""
    summaries, registry = shared
    batch = revisions(make_document, 60)
    here = Summaries(0, Registry(), classify)

    expected, expected_graph = run(here, batch)
    results, graph = run(summaries, batch)

    assert summaries._pool is not None  # the share did go to a helper
    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert [r.groups if r else None for r in results] == [r.groups if r else None for r in expected]
    assert {"slow", "faults", "everything"} <= {g for r in results if r for g in r.groups}
    assert all("unparsable" not in r.groups for r in results if r)
    assert same_graph(graph, expected_graph)
    assert registry.value(*FAILURES) == 0


def test_a_helpers_contribution_is_recounted_from_its_stored_summary(shared, make_document):
    """Records summarised on a helper carry no contribution; recount gives the local one."""
    summaries, _ = shared
    batch = revisions(make_document, 10)
    expected, _ = run(Summaries(0, Registry(), classify), batch)

    results, _ = run(summaries, batch)

    helped = [(r, e) for r, e in zip(results, expected, strict=True) if r and r.counted is None]
    assert helped, "no trace was summarised on the helper"
    for result, local in helped:
        weight = next(b.weight for b in batch if b.trace_id == result.record.trace_id)
        assert local is not None
        assert local.counted is not None
        assert same_graph(recount(result.record.summary, result.groups, weight), local.counted)


def test_helpers_decide_the_tail_stage_as_it_is_decided_here(make_document):
    """Traces waiting on the tail stage are decided where they are summarised: the same
    verdicts, the same traces left waiting, the same records and graph, weighted by the head
    and tail probabilities together."""
    tail = TailSampler(
        parse_rules(
            [
                {"name": "faults", "filter": "fault", "keep": 0.5},
                {"name": "slow", "filter": "responsetime > 0.5"},
            ]
        )
    )
    head = Verdict(True, "half", 0.5, HEAD)
    batch = []
    for n, revision in enumerate(revisions(make_document, 60)):
        batch.append(revision._replace(tail=TailCall(n % 5 == 0, head if n % 2 else None)))
    for n in range(20):  # in progress: left waiting unless their wait is over
        trace_id = f"1-6b065e19-{n + 1:022x}ff"
        root = make_document(trace_id=trace_id, in_progress=True, fault=n % 2 == 0)
        segments = [d.raw for d in parse_document(orjson.dumps(root))]
        batch.append(Revision(trace_id, 1, False, 1.0, segments, TailCall(n % 4 == 0, None)))
    here = Summaries(0, Registry(), classify, tail=tail)
    helped = Summaries(1, Registry(), classify, lambda: GROUPS, tail=tail, min_shared=2)
    warm(helped)
    try:
        expected, expected_graph = run(here, batch)
        results, graph = run(helped, batch)
    finally:
        helped.shutdown()

    def outcome(result: Summarized | Withheld | None) -> object:
        if isinstance(result, Summarized):
            return ("written", result.record, result.groups, result.tail)
        return result

    outcomes = [outcome(r) for r in results]
    assert outcomes == [outcome(e) for e in expected]
    assert same_graph(graph, expected_graph)
    assert helped._shared.value > 0
    # Every kind of outcome is among them, on the helper's half too.
    verdicts = {o[3] for o in outcomes[len(batch) // 2 :] if type(o) is tuple}
    assert verdicts == {Verdict(True, "slow", 1.0, TAIL), Verdict(True, "faults", 0.5, TAIL)}
    assert Withheld(None) in outcomes[len(batch) // 2 :]
    assert Withheld(Verdict(False, NO_RULE, 0.0, TAIL)) in outcomes[len(batch) // 2 :]


def test_a_dead_helper_costs_time_not_traces(shared, make_document):
    """When the helper process dies, its share is summarised here, counted, and the next
    flush gets a new helper."""
    summaries, registry = shared
    batch = revisions(make_document, 20)
    expected, expected_graph = run(Summaries(0, Registry(), classify), batch)
    run(summaries, batch)  # the helper is up
    assert summaries._pool is not None
    for pid in list(summaries._pool._processes):
        os.kill(pid, signal.SIGKILL)

    results, graph = run(summaries, batch)
    warm(summaries)
    again, _ = run(summaries, batch)

    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert same_graph(graph, expected_graph)
    assert registry.value(*FAILURES) == 1
    assert [r.record if r else None for r in again] == [r.record if r else None for r in expected]
    assert any(r.counted is None for r in again if r), "the next flush used no helper"


def test_a_batch_shared_whole_gives_what_summarising_here_gives(shared, make_document):
    """For a caller that goes on working meanwhile: the helper takes every revision, the
    results are ready once it answers, and a helper killed while the batch waits costs time
    only."""
    summaries, registry = shared
    batch = revisions(make_document, 20)
    expected, expected_graph = run(Summaries(0, Registry(), classify), batch)

    graph: Contribution = {}
    pending = summaries.start(batch, graph, share_all=True)
    deadline = time.monotonic() + 30
    while not pending.ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    results = pending()

    assert pending.shared
    assert all(r is not None and r.counted is None for r in results)  # all from the helper
    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert same_graph(graph, expected_graph)

    pool = summaries._pool
    assert pool is not None
    busy = pool.submit(time.sleep, 2.0)  # the batch waits behind this
    killed: Contribution = {}
    waiting = summaries.start(batch, killed, share_all=True)
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    results = waiting()

    assert busy.exception() is not None  # the helper did die with the batch in its queue

    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert same_graph(killed, expected_graph)
    assert registry.value(*FAILURES) == 1


def test_a_helper_that_died_between_flushes_costs_time_not_traces(shared, make_document):
    """A pool found broken when the next flush hands out its shares: that flush is
    summarised here, and the failure counted."""
    summaries, registry = shared
    batch = revisions(make_document, 20)
    expected, expected_graph = run(Summaries(0, Registry(), classify), batch)
    pool = summaries._pool
    assert pool is not None
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not pool._broken and time.monotonic() < deadline:
        time.sleep(0.01)

    results, graph = run(summaries, batch)

    assert pool._broken
    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert same_graph(graph, expected_graph)
    assert registry.value(*FAILURES) == 1


def test_one_dead_helper_among_several_is_one_failure(make_document):
    """A pool that breaks fails every share it holds: counted once, all summarised here."""
    registry = Registry()
    summaries = Summaries(2, registry, classify, lambda: GROUPS, min_shared=2)
    batch = revisions(make_document, 30)
    expected, expected_graph = run(Summaries(0, Registry(), classify), batch)
    try:
        warm(summaries)
        pool = summaries._pool
        assert pool is not None
        busy = [pool.submit(time.sleep, 2.0) for _ in range(2)]  # the shares wait behind
        graph: Contribution = {}
        finish = summaries.start(batch, graph)
        os.kill(next(iter(pool._processes)), signal.SIGKILL)
        results = finish()
    finally:
        summaries.shutdown()

    assert all(future.exception() is not None for future in busy)  # the pool did break
    assert [r.record if r else None for r in results] == [r.record if r else None for r in expected]
    assert same_graph(graph, expected_graph)
    assert registry.value(*FAILURES) == 1
    assert summaries.processes == 2


def test_helpers_that_keep_failing_are_given_up(make_document):
    """After MAX_FAILURES_IN_A_ROW failures in a row, flushes are summarised here alone."""
    registry = Registry()
    # A filter that is not text: the helper cannot build its classifier and raises.
    broken: tuple[Any, ...] = (("broken", "arn:aws:xray:us-east-1:0:group/broken/1", 5),)
    summaries = Summaries(1, registry, classify, lambda: broken, min_shared=2)
    batch = revisions(make_document, 20)
    expected, expected_graph = run(Summaries(0, Registry(), classify), batch)

    try:
        for _ in range(MAX_FAILURES_IN_A_ROW + 1):
            if summaries.processes:
                warm(summaries)
            results, graph = run(summaries, batch)
            assert [r.record if r else None for r in results] == [
                r.record if r else None for r in expected
            ]
            assert same_graph(graph, expected_graph)
    finally:
        summaries.shutdown()

    assert registry.value(*FAILURES) == MAX_FAILURES_IN_A_ROW
    assert summaries.processes == 0
    assert summaries._pool is None


def test_the_first_shared_flush_does_not_wait_for_helpers_to_start(make_document):
    """Until the helpers answer, flushes are summarised here; then they are shared."""
    summaries = Summaries(1, Registry(), classify, lambda: GROUPS, min_shared=2)
    batch = revisions(make_document, 20)
    try:
        first, _ = run(summaries, batch)
        started = summaries._pool is not None
        warm(summaries)
        then, _ = run(summaries, batch)
    finally:
        summaries.shutdown()

    assert started
    assert all(r is not None and r.counted is not None for r in first)
    assert any(r is not None and r.counted is None for r in then)
    assert [r.record if r else None for r in then] == [r.record if r else None for r in first]


def test_small_flushes_stay_on_the_pipeline_thread(make_document):
    """Below min_shared no helper process is started."""
    summaries = Summaries(1, Registry(), classify, lambda: GROUPS, min_shared=1000)
    batch = revisions(make_document, 5)

    results, _ = run(summaries, batch)

    assert summaries._pool is None
    assert all(r is not None and r.counted is not None for r in results)


def test_an_assembler_with_helpers_stores_what_one_without_stores(make_harness, make_document):
    """Same summaries and the same service graph statistics, over first writes and revisions."""
    traces = 80
    outcomes = []
    for processes in (0, 1):
        harness = make_harness()
        harness.assembler.summaries = Summaries(
            processes, harness.registry, harness.assembler._classify, min_shared=2
        )
        if processes:
            warm(harness.assembler.summaries)
        try:
            roots = []
            for n in range(traces):
                root = make_document(trace_id=f"1-6b065e19-{n + 1:024x}", fault=n % 4 == 0)
                roots.append(root)
                harness.add(root)
            harness.assembler.flush()
            for n, root in enumerate(roots):  # a second revision of every trace
                harness.add(
                    make_document(
                        trace_id=root["trace_id"],
                        type="subsegment",
                        parent_id=root["id"],
                        name=f"call-{n % 3}",
                        namespace="remote",
                        error=True,
                    )
                )
            harness.assembler.flush()
        finally:
            harness.assembler.summaries.shutdown()
        sink = harness.sink
        assert isinstance(sink, InMemoryTraceSink)
        outcomes.append(
            (
                {trace_id: summary.revision for trace_id, summary in sink.summaries.items()},
                {trace_id: harness.summary(trace_id) for trace_id in sink.summaries},
                sink.graph,
            )
        )

    (revisions0, summaries0, graph0), (revisions1, summaries1, graph1) = outcomes
    assert len(summaries1) == traces
    assert revisions1 == revisions0
    assert summaries1 == summaries0
    assert same_graph(graph1, graph0)
