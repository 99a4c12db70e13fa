"""The collector's own sampling: head decisions by X-Ray rules, tail decisions on whole traces."""

from typing import Any

import orjson
import pytest

from fluoroscope.assembly.decisions import DecisionMemory, Verdict, uniform_draw
from fluoroscope.assembly.gate import SamplingGate
from fluoroscope.assembly.head_sampling import HeadMode, HeadSampler, request_of
from fluoroscope.assembly.summaries import Summaries
from fluoroscope.assembly.tail_sampling import (
    NO_RULE,
    TailRuleError,
    TailSampler,
    parse_rules,
)
from fluoroscope.sampling import RuleSet, Sampler, SamplingRequest, SamplingRule

ROOT = "00000000000000a0"
SUB = "00000000000000b0"
TRACES = ("fluoroscope_sampling_traces",)
DROPPED_DOCUMENTS = "fluoroscope_sampling_documents_dropped"
WAIT_S = 10.0


def trace_id(number: int) -> str:
    return f"1-6b065e19-{number:024x}"


def rule(name: str, **members: Any) -> SamplingRule:
    api: dict[str, Any] = {
        "RuleName": name,
        "ResourceARN": "*",
        "Priority": 100,
        "FixedRate": 0.0,
        "ReservoirSize": 0,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
    }
    api.update(members)
    return SamplingRule.from_api(api)


def never_drawn() -> float:
    raise AssertionError("the collector draws from the trace id, never from random()")


@pytest.fixture
def gated(make_harness, clock):
    """An assembler behind a sampling gate built from head rules and tail rule specs."""

    def make(
        *head_rules: SamplingRule,
        mode: HeadMode = HeadMode.RESAMPLE,
        tail: list[dict[str, Any]] | None = None,
        **limits: Any,
    ):
        sampler = Sampler(RuleSet(head_rules), clock, never_drawn) if head_rules else None

        def gate(registry):
            return SamplingGate(
                registry,
                head=HeadSampler(sampler, mode) if sampler is not None else None,
                tail=TailSampler(parse_rules(tail)) if tail is not None else None,
                wait_s=WAIT_S,
                memory=1_000,
            )

        return make_harness(gate=gate, **limits)

    return make


@pytest.fixture(params=[0, 1], ids=["here", "summary-process"])
def sharing(request, gated):
    """``gated``, run twice: summarising (and tail-deciding) on the pipeline thread, and with a
    summary process that takes half of every flush of two traces or more."""
    made = []

    def make(*args: Any, **kwargs: Any):
        harness = gated(*args, **kwargs)
        if request.param:
            assembler = harness.assembler
            assembler.summaries = Summaries(
                request.param,
                harness.registry,
                assembler._classify,
                tail=assembler._gate.tail,
                min_shared=2,
            )
            assert assembler.summaries.warm_up(60)
            made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.assembler.summaries.shutdown()
        assert harness.counter("fluoroscope_summary_shared_traces") > 0, "nothing was shared"
        assert harness.counter("fluoroscope_summary_helper_failures") == 0


def stored(harness) -> set[str]:
    return set(harness.sink.summaries)


# --- head sampling ---------------------------------------------------------------------------


def test_a_trace_the_rules_drop_is_never_stored_and_is_counted(gated, make_document):
    """FixedRate 0 and no reservoir: the trace goes, counted under its rule."""
    harness = gated(rule("none-for-checkout", ServiceName="checkout", Priority=1))
    harness.add(make_document(id=ROOT), make_document(id=SUB, parent_id=ROOT, name="db"))

    harness.assembler.flush()

    assert stored(harness) == set()
    assert harness.counter(*TRACES, "head", "none-for-checkout", "dropped") == 1
    assert harness.counter(DROPPED_DOCUMENTS, "head") == 2
    assert harness.assembler.in_flight == 0


def test_later_documents_of_a_dropped_trace_are_dropped_too(gated, make_document):
    """The verdict holds for documents that come after it was made."""
    harness = gated(rule("none", ServiceName="checkout", Priority=1))
    harness.add(make_document(id=ROOT))
    harness.assembler.flush()

    results = harness.add(make_document(id=SUB, parent_id=ROOT, name="late"))
    harness.assembler.flush()

    assert results == [None]
    assert stored(harness) == set()
    assert harness.counter(*TRACES, "head", "none", "dropped") == 1
    assert harness.counter(DROPPED_DOCUMENTS, "head") == 2


def test_a_kept_trace_records_its_rule_and_probability(gated, make_document):
    """FixedRate 1 keeps every trace; the store learns which rule kept it, and how likely."""
    harness = gated(rule("all-checkout", ServiceName="checkout", Priority=1, FixedRate=1.0))
    harness.add(make_document(id=ROOT))

    harness.assembler.flush()

    assert harness.sink.sampling[harness.sink.traces.popitem()[0]] == ("all-checkout", 1.0)
    assert harness.counter(*TRACES, "head", "all-checkout", "kept") == 1


def test_rules_match_the_entry_segment_not_what_came_first(gated, make_document):
    """Subsegments streamed ahead of their segment wait for it; its name picks the rule."""
    harness = gated(
        rule("drop-step", ServiceName="step", Priority=1),
        rule("keep-checkout", ServiceName="checkout", Priority=2, FixedRate=1.0),
    )
    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step"))
    harness.assembler.flush()
    assert stored(harness) == set()  # waiting for the segment

    harness.add(make_document(id=ROOT, name="checkout"))
    harness.assembler.flush()

    assert len(stored(harness)) == 1
    summary = next(iter(harness.sink.summaries.values()))
    assert summary.revision == 2
    assert harness.counter(*TRACES, "head", "keep-checkout", "kept") == 1
    assert harness.counter(*TRACES, "head", "drop-step", "dropped") == 0


def test_without_its_segment_a_trace_is_decided_when_the_wait_is_over(gated, make_document, clock):
    """A subsegment whose segment never comes is decided on what arrived, after the wait."""
    harness = gated(rule("keep-all", FixedRate=1.0, Priority=1))
    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="step"))
    harness.assembler.flush()
    clock.advance(WAIT_S - 0.1)
    harness.assembler.flush()
    assert stored(harness) == set()

    clock.advance(0.1)
    harness.assembler.flush()

    assert len(stored(harness)) == 1
    assert harness.counter(*TRACES, "head", "keep-all", "kept") == 1


def test_honour_keeps_what_the_sender_marked_sampled(gated, make_document, parse):
    """In honour mode a document with the sender's sampled mark skips the rules."""
    harness = gated(rule("none", Priority=1), mode=HeadMode.HONOUR)
    marked = parse(make_document(id=ROOT))
    marked.sampled = True
    unmarked = parse(make_document(id=ROOT, trace_id=trace_id(2)))

    harness.assembler.add(marked)
    harness.assembler.add(unmarked)
    harness.assembler.flush()

    assert stored(harness) == {marked.trace_id}
    assert harness.sink.sampling[marked.trace_id] == ("", 1.0)
    assert harness.counter(*TRACES, "upstream", "", "kept") == 1
    assert harness.counter(*TRACES, "head", "none", "dropped") == 1


def test_resample_ignores_the_senders_mark(gated, make_document, parse):
    """In resample mode the rules decide even what the sender marked sampled."""
    harness = gated(rule("none", Priority=1), mode=HeadMode.RESAMPLE)
    marked = parse(make_document(id=ROOT))
    marked.sampled = True

    harness.assembler.add(marked)
    harness.assembler.flush()

    assert stored(harness) == set()


def test_the_fixed_rate_decides_by_trace_id_the_same_way_every_time(gated, make_document):
    """Two collectors with no memory in common keep exactly the same traces, about half."""
    rules = (rule("half", FixedRate=0.5, Priority=1),)
    first, second = gated(*rules), gated(*rules)
    for number in range(1, 2001):
        document = make_document(id=ROOT, trace_id=trace_id(number))
        first.add(document)
        second.add(document)

    first.assembler.flush()
    second.assembler.flush()

    assert stored(first) == stored(second)
    assert 900 <= len(stored(first)) <= 1100
    assert {first.sink.sampling[t] for t in stored(first)} == {("half", 0.5)}


def test_the_reservoir_keeps_one_trace_a_second_before_any_quota(gated, make_document, clock):
    """Borrowing: with a reservoir and a zero rate, one trace per second is kept."""
    harness = gated(rule("trickle", ReservoirSize=1, Priority=1))
    for number in range(1, 6):
        harness.add(make_document(id=ROOT, trace_id=trace_id(number)))
    harness.assembler.flush()
    clock.advance(1.0)
    harness.add(make_document(id=ROOT, trace_id=trace_id(6)))
    harness.assembler.flush()

    assert stored(harness) == {trace_id(1), trace_id(6)}


def test_the_request_is_what_the_sdk_would_match(parse, make_document):
    """Service name and origin from the segment; host, method and path from its HTTP request."""
    segment = parse(
        make_document(
            name="checkout",
            origin="AWS::EC2::Instance",
            http={"request": {"method": "POST", "url": "https://shop.example.com/cart?id=1"}},
        )
    ).view()
    subsegment = parse(
        make_document(type="subsegment", parent_id=ROOT, name="step", http={"request": {}})
    ).view()

    assert request_of(segment) == SamplingRequest(
        "checkout", "AWS::EC2::Instance", "shop.example.com", "POST", "/cart"
    )
    assert request_of(subsegment) == SamplingRequest()


def test_the_host_keeps_its_port_as_the_host_header_does(parse, make_document):
    """The SDK matches a rule's Host against the Host header, which names a port other than
    the scheme's: a rule for localhost:8080 matches the collector's view of it too."""
    segment = parse(
        make_document(http={"request": {"method": "GET", "url": "http://localhost:8080/a"}})
    ).view()

    assert request_of(segment).host == "localhost:8080"


# --- tail sampling ---------------------------------------------------------------------------


def test_tail_rules_keep_faults_and_drop_the_rest(sharing, make_document):
    """The first matching rule decides; a trace no rule matches is dropped and counted."""
    harness = sharing(tail=[{"name": "faults", "filter": "fault"}])
    harness.add(make_document(id=ROOT, fault=True))
    harness.add(make_document(id=ROOT, trace_id=trace_id(2)))

    harness.assembler.flush()

    assert stored(harness) == {"1-6b065e19-de34471773fb7a0c55f48339"}
    assert harness.sink.sampling["1-6b065e19-de34471773fb7a0c55f48339"] == ("faults", 1.0)
    assert harness.counter(*TRACES, "tail", "faults", "kept") == 1
    assert harness.counter(*TRACES, "tail", NO_RULE, "dropped") == 1
    assert harness.counter(DROPPED_DOCUMENTS, "tail") == 1


def test_slow_traces_are_kept_by_a_duration_rule(sharing, make_document):
    """ "Keep traces slower than 2 s" is the filter duration > 2."""
    harness = sharing(tail=[{"name": "slow", "filter": "duration > 2"}])
    start = 1795579417.0
    harness.add(make_document(id=ROOT, start_time=start, end_time=start + 2.5))
    harness.add(make_document(id=ROOT, trace_id=trace_id(2), start_time=start, end_time=start + 1))

    harness.assembler.flush()

    assert stored(harness) == {"1-6b065e19-de34471773fb7a0c55f48339"}


def test_a_trace_in_progress_waits_until_complete(gated, make_document, clock):
    """Complete traces are decided at once; others wait for completion."""
    harness = gated(tail=[{"name": "all"}])
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()
    assert stored(harness) == set()
    assert harness.assembler.dirty == 1

    clock.advance(1.0)
    harness.add(make_document(id=ROOT))
    harness.assembler.flush()

    assert len(stored(harness)) == 1
    assert harness.assembler.dirty == 0


def test_an_unfinished_trace_is_decided_when_its_wait_is_over(gated, make_document, clock):
    """The wait is bounded: after it the trace is decided on what it has."""
    harness = gated(tail=[{"name": "all"}])
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()

    clock.advance(WAIT_S)
    harness.assembler.flush()

    assert len(stored(harness)) == 1
    assert next(iter(harness.sink.summaries.values())).completeness.name == "IN_PROGRESS"


def test_a_waiting_trace_leaves_pending_bytes_until_it_changes_or_is_recalled(
    gated, make_document, clock
):
    """Waiting documents cannot be written, so they never trigger an early flush."""
    harness = gated(tail=[{"name": "all"}])
    first = make_document(id=ROOT, in_progress=True)
    harness.add(first)
    harness.assembler.flush()
    assert harness.assembler.pending_bytes == 0

    closed = make_document(id=ROOT)
    harness.add(closed)  # replaces the waiting copy: only the new one is pending
    assert harness.assembler.pending_bytes == len(orjson.dumps(closed))

    harness.assembler.flush()
    assert len(stored(harness)) == 1
    assert harness.assembler.pending_bytes == 0


def test_one_flush_keeps_drops_and_leaves_waiting(sharing, make_document, clock):
    """However a flush is shared out, each trace gets its own outcome: complete faults kept,
    complete others dropped, traces in progress left waiting until they complete."""
    harness = sharing(tail=[{"name": "faults", "filter": "fault"}])
    for number in range(1, 41):
        outcome = number % 4  # 0: fault, 1: ok, 2: fault in progress, 3: ok in progress
        harness.add(
            make_document(
                id=ROOT,
                trace_id=trace_id(number),
                fault=outcome in (0, 2),
                in_progress=outcome >= 2,
            )
        )
    harness.assembler.flush()

    faults = {trace_id(n) for n in range(1, 41) if n % 4 == 0}
    assert stored(harness) == faults
    assert harness.counter(*TRACES, "tail", NO_RULE, "dropped") == 10
    assert harness.assembler.dirty == 20  # waiting, not decided

    clock.advance(1.0)
    for number in range(1, 41):
        if number % 4 >= 2:
            harness.add(make_document(id=ROOT, trace_id=trace_id(number), fault=number % 4 == 2))
    harness.assembler.flush()

    faults |= {trace_id(n) for n in range(1, 41) if n % 4 == 2}
    assert stored(harness) == faults
    assert harness.counter(*TRACES, "tail", "faults", "kept") == 20
    assert harness.counter(*TRACES, "tail", NO_RULE, "dropped") == 20
    assert harness.assembler.dirty == 0


def test_a_waiting_trace_is_never_evicted_undecided(gated, make_document, clock):
    """Eviction skips traces that wait for a decision, however idle they are."""
    harness = gated(tail=[{"name": "all"}], idle_timeout_s=1.0)
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()

    clock.advance(5.0)
    harness.assembler.evict()

    assert harness.assembler.in_flight == 1


def test_memory_pressure_decides_waiting_traces_early(sharing, make_document):
    """Over the buffer's trace limit, waiting traces are decided now rather than lost."""
    harness = sharing(tail=[{"name": "all"}], max_traces=10)
    for number in range(1, 13):
        harness.add(make_document(id=ROOT, in_progress=True, trace_id=trace_id(number)))

    harness.assembler.flush()

    assert len(stored(harness)) == 12


def test_shutdown_decides_every_waiting_trace(gated, make_document):
    """The final flush leaves nothing undecided."""
    harness = gated(tail=[{"name": "all"}])
    harness.add(make_document(id=ROOT, in_progress=True))
    harness.assembler.flush()

    harness.assembler.flush(final=True)

    assert len(stored(harness)) == 1
    assert harness.assembler.dirty == 0


def test_late_documents_of_a_kept_trace_are_kept_after_eviction(gated, make_document, clock):
    """The store answers for a kept trace that left memory: its late documents join it."""
    harness = gated(tail=[{"name": "faults", "filter": "fault"}])
    harness.add(make_document(id=ROOT, fault=True))
    harness.assembler.flush()
    clock.advance(60.0)
    harness.assembler.evict()
    assert harness.assembler.in_flight == 0

    harness.add(make_document(id=SUB, type="subsegment", parent_id=ROOT, name="late"))
    harness.assembler.flush()

    (trace_id_kept,) = stored(harness)
    assert len(harness.sink.documents(trace_id_kept)) == 2
    assert harness.sink.sampling[trace_id_kept] == ("faults", 1.0)
    assert harness.counter(*TRACES, "tail", "faults", "kept") == 1


def test_a_probability_rule_keeps_a_share_by_trace_id(sharing, make_document):
    """keep = 0.25 keeps about a quarter, always the same ones, recorded with 0.25."""
    specs = [{"name": "quarter", "keep": 0.25}]
    first, second = sharing(tail=specs), sharing(tail=specs)
    for number in range(1, 2001):
        document = make_document(id=ROOT, trace_id=trace_id(number))
        first.add(document)
        second.add(document)

    first.assembler.flush()
    second.assembler.flush()

    assert stored(first) == stored(second)
    assert 400 <= len(stored(first)) <= 600
    assert {first.sink.sampling[t] for t in stored(first)} == {("quarter", 0.25)}
    assert first.counter(*TRACES, "tail", "quarter", "dropped") == 2000 - len(stored(first))


def test_graph_statistics_count_a_kept_trace_as_one_over_its_probability(sharing, make_document):
    """Node counts estimate what arrived: each trace kept with 0.25 counts four times, once."""
    harness = sharing(tail=[{"name": "quarter", "keep": 0.25}])

    def node_total() -> float:
        return sum(values[4] for key, values in harness.sink.graph.items() if key[1] == "n")

    for number in range(1, 401):
        harness.add(make_document(id=ROOT, trace_id=trace_id(number)))
    harness.assembler.flush()
    assert stored(harness)
    assert node_total() == pytest.approx(4 * len(stored(harness)))

    for number in range(1, 401):  # resent documents change nothing
        harness.add(make_document(id=ROOT, trace_id=trace_id(number)))
    harness.assembler.flush()
    assert node_total() == pytest.approx(4 * len(stored(harness)))


def test_head_and_tail_probabilities_multiply(sharing, make_document):
    """A trace kept by a 0.5 head rate and a 0.5 tail rule stands for four."""
    harness = sharing(
        rule("half", FixedRate=0.5, Priority=1), tail=[{"name": "half-again", "keep": 0.5}]
    )
    for number in range(1, 401):
        harness.add(make_document(id=ROOT, trace_id=trace_id(number)))

    harness.assembler.flush()

    kept = stored(harness)
    assert 60 <= len(kept) <= 140  # about a quarter: the two draws are independent
    assert {harness.sink.sampling[t] for t in kept} == {("half-again", 0.25)}


def test_tail_rules_are_validated():
    """Each mistake is named with its rule."""
    with pytest.raises(TailRuleError, match="two rules are named 'a'"):
        parse_rules([{"name": "a"}, {"name": "a"}])
    with pytest.raises(TailRuleError, match="'keep' must be a probability"):
        parse_rules([{"name": "a", "keep": 1.5}])
    with pytest.raises(TailRuleError, match="rule 'a'"):
        parse_rules([{"name": "a", "filter": "duration >"}])
    with pytest.raises(TailRuleError, match="unknown keys colour"):
        parse_rules([{"name": "a", "colour": "red"}])
    with pytest.raises(TailRuleError, match="'name'"):
        parse_rules([{"filter": "fault"}])


# --- decisions -------------------------------------------------------------------------------


def test_decision_memory_forgets_the_oldest_first():
    """Bounded: beyond its capacity the oldest verdict goes."""
    memory = DecisionMemory(2)
    kept = Verdict(True, "r", 1.0, "head")
    memory.remember("a", kept)
    memory.remember("b", kept)
    memory.remember("c", kept)

    assert [memory.get(key) for key in "abc"] == [None, kept, kept]
    assert len(memory) == 2


def test_draws_are_uniform_and_salted():
    """The head and tail draws of a trace are independent numbers in [0, 1)."""
    head = [uniform_draw(trace_id(n), b"head") for n in range(4000)]
    tail = [uniform_draw(trace_id(n), b"tail") for n in range(4000)]

    assert all(0.0 <= d < 1.0 for d in head)
    assert 0.45 < sum(head) / len(head) < 0.55
    both = sum(1 for h, t in zip(head, tail, strict=True) if h < 0.5 and t < 0.5)
    assert 900 < both < 1100
