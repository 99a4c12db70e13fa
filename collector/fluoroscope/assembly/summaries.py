"""Summarising trace revisions for the store, on the pipeline thread and on helper processes.

Summarising a trace (its tree, summary, root causes, graph statistics and store rows) is most
of what a document costs the pipeline thread, and it is a pure function of the trace's
segments. So each flush hands the traces it writes for the first time to helper processes,
as msgpack of their documents' bytes, and takes the helpers' records back later: the collector's
pipeline thread parses and assembles the next documents meanwhile (see the assembler's
deferred flushes). A caller that waits instead keeps a share to summarise itself meanwhile.
A helper returns plain rows (:class:`TraceRecord`) and the batch's graph statistics summed,
which cross back cheaply; the contribution of each trace is recomputed from its stored
summary only if a later revision of the trace needs it (:func:`recount`).

A trace the tail-sampling stage has to decide is decided where it is summarised, since the
verdict depends on the summary alone: the rules and the draw are pure functions of it. A trace
it drops or leaves waiting adds nothing to the graph, and its verdict comes back to be counted.
Traces written before (their new contribution is diffed against the old one) are always
summarised on the pipeline thread.
"""

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from fluoroscope.assembly.decisions import Verdict, kept
from fluoroscope.assembly.tail_sampling import TailSampler, TailSpec
from fluoroscope.filters.groups import Classifier, GroupDefinition
from fluoroscope.model.segment import view_of
from fluoroscope.model.statistics import Contribution, StatKey, add_into, contribution
from fluoroscope.model.summary import TraceSummary, summarize
from fluoroscope.model.trace import Completeness, TraceTree
from fluoroscope.runtime import HELPERS_UNAVAILABLE, helper_pool
from fluoroscope.store import summary_codec
from fluoroscope.store.types import TraceRecord, record_of, service_rows

if TYPE_CHECKING:  # the helpers never count: they need not import the metrics library
    from fluoroscope.telemetry import Registry

log = logging.getLogger(__name__)

# Below this many traces a flush is summarised on the pipeline thread alone: the hand-over
# costs more than it saves.
MIN_SHARED = 64
# How long a flush waits for a helper before summarising its share itself.
HELPER_TIMEOUT_S = 30.0
# After this many failures in a row, helpers are given up on (each costs a restart and a wait).
MAX_FAILURES_IN_A_ROW = 3

# Groups of a trace: "" (every trace) and the names of the groups whose filters it matches.
Classify = Callable[[TraceSummary], list[str]]


class TailCall(NamedTuple):
    """What the tail stage needs besides the summary of a trace it decides."""

    # Whether the trace's decision wait is over: an incomplete trace is then decided as it is.
    waited: bool
    # The head stage's verdict, if it decided first (its probability multiplies the tail's).
    head: Verdict | None


class Revision(NamedTuple):
    """What summarising one trace revision needs: plain values and the documents' bytes."""

    trace_id: str
    revision: int
    limit_exceeded: bool
    # How many traces the trace stands for in the graph's statistics (1 / its sampling
    # probability); for a trace the tail stage decides, its verdict sets that.
    weight: float
    documents: list[bytes]
    # Set when the trace waits on the tail stage's verdict.
    tail: TailCall | None = None


@dataclass(slots=True)
class Summarized:
    """A revision laid out for the store, with what it adds to the service graph."""

    record: TraceRecord
    # The groups it was counted in ("" included).
    groups: list[str]
    # Its whole contribution; None when a helper made it (see recount).
    counted: Contribution | None
    # The tail stage's verdict, when this revision was the one it decided on.
    tail: Verdict | None = None


class Withheld(NamedTuple):
    """A revision the tail stage does not let through: the verdict that dropped the trace, or
    None while an incomplete trace waits."""

    verdict: Verdict | None


# What summarising a revision gives; None marks one that could not be summarised (a bug).
Outcome = Summarized | Withheld | None


def summary_of(revision: Revision) -> TraceSummary:
    """The summary of one revision of a trace."""
    return summarize(
        revision.trace_id,
        TraceTree([view_of(raw) for raw in revision.documents]),
        revision.revision,
        limit_exceeded=revision.limit_exceeded,
    )


def summarize_revision(
    revision: Revision,
    classify: Classify,
    into: Contribution | None,
    tail: TailSampler | None = None,
    *,
    counted: bool = True,
) -> Summarized | Withheld:
    """Summarise one revision, deciding it by ``tail`` if it waits on the tail stage; its
    contribution is also added into ``into`` when given (unless it is withheld), and kept
    only with ``counted``."""
    summary = summary_of(revision)
    call = revision.tail
    if call is None:
        return lay_out(summary, classify(summary), revision.weight, into, counted=counted)
    if tail is None:
        raise ValueError("a revision waits on the tail stage, but there is no tail sampler")
    if summary.completeness is not Completeness.COMPLETE and not call.waited:
        return Withheld(None)
    verdict = tail.decide(summary)
    if not verdict.kept:
        return Withheld(verdict)
    weight = kept(call.head, verdict).weight
    summarized = lay_out(summary, classify(summary), weight, into, counted=counted)
    summarized.tail = verdict
    return summarized


def lay_out(
    summary: TraceSummary,
    groups: list[str],
    weight: float,
    into: Contribution | None,
    *,
    counted: bool = True,
) -> Summarized:
    """The store's rows for a summary, and its graph contribution (None unless ``counted``;
    ``into`` receives it either way)."""
    facts = summary.facts
    record = record_of(summary, service_rows(facts))
    own = contribution(facts, groups, weight, into=into, own=counted)
    return Summarized(record, groups, own if counted else None)


def recount(summary: str, groups: list[str], weight: float) -> Contribution:
    """The contribution of a revision a helper summarised, from its stored summary."""
    return contribution(summary_codec.decode(summary).facts, groups, weight)


# What crosses to a helper and back: per revision, its record (None when withheld), groups and
# tail verdict, or None; then the share's contributions summed.
_Result = tuple[TraceRecord | None, list[str], Verdict | None]
_Shared = tuple[list[_Result | None], list[tuple[StatKey, list[float]]]]
_ENCODER = msgspec.msgpack.Encoder()
_REVISIONS = msgspec.msgpack.Decoder(list[Revision])
_SHARED = msgspec.msgpack.Decoder(_Shared)


class Summaries:
    """Summarises the revisions of one flush, sharing them with helper processes if any.

    The helpers start with the first flush large enough to share. A helper that dies or
    hangs costs nothing but time: its share is summarised here, and the next flush starts new
    helpers, up to :data:`MAX_FAILURES_IN_A_ROW` times in a row.
    """

    def __init__(
        self,
        processes: int,
        registry: "Registry",
        classify: Classify,
        definitions: Callable[[], tuple[GroupDefinition, ...]] = tuple,
        *,
        tail: TailSampler | None = None,
        min_shared: int = MIN_SHARED,
    ) -> None:
        self.processes = processes
        self._classify = classify
        self._definitions = definitions
        self._tail = tail
        self._min_shared = min_shared
        self._pool: ProcessPoolExecutor | None = None
        # Calls that answer once the helpers have started (see _ready_pool).
        self._warming: list[Future[None]] = []
        self._failures_in_a_row = 0
        self._shared = registry.counter(
            "fluoroscope_summary_shared_traces",
            "Trace revisions summarised by helper processes",
        ).child()
        self._failures = registry.counter(
            "fluoroscope_summary_helper_failures",
            "Shares of a flush a helper process failed to summarise (summarised in the "
            "collector's process instead)",
        ).child()

    def start(
        self, revisions: Sequence[Revision], graph: Contribution, *, share_all: bool = False
    ) -> "Pending":
        """Hand out shares of ``revisions``; the returned :class:`Pending` summarises the rest
        here, when called, and then collects the helpers' shares.

        Results come in the order of ``revisions``; None marks one that could not be
        summarised (a bug, logged). Every contribution of a revision written is added into
        ``graph``. With ``share_all`` the helpers get every revision, for a caller that does
        other work until they are done, rather than summarise a share itself meanwhile.
        """
        pool = self._ready_pool(len(revisions))
        if pool is None:
            return Pending(lambda: self._here(revisions, graph))
        # Even shares, this thread's first (none with share_all): it summarises while the
        # helpers do theirs.
        size = -(-len(revisions) // (self.processes + (0 if share_all else 1)))
        own = revisions[:0] if share_all else revisions[:size]
        shares = [revisions[i : i + size] for i in range(len(own), len(revisions), size)]
        definitions = self._definitions()
        rules = self._tail.specs if self._tail is not None else ()
        try:
            futures = [
                pool.submit(summarize_shared, _ENCODER.encode(share), definitions, rules)
                for share in shares
            ]
        except Exception as exc:  # a helper died since the last flush (a broken pool)
            self._failed(exc)
            return Pending(lambda: self._here(revisions, graph))

        def finish() -> list[Outcome]:
            out = self._here(own, graph)
            pool_failed = False
            for share, future in zip(shares, futures, strict=True):
                if pool_failed:  # the helpers were stopped: one failure, counted once
                    out += self._here(share, graph)
                    continue
                part = self._collect(share, future, graph)
                pool_failed = part is None
                out += self._here(share, graph) if part is None else part
            return out

        return Pending(finish, futures)

    def warm_up(self, timeout: float) -> bool:
        """Start the helpers now and wait until they answer; whether they did.

        For measurements: a collector starts its helpers with its first large flush.
        """
        self._ready_pool(self._min_shared)
        try:
            for future in self._warming:
                future.exception(timeout)
        except (TimeoutError, CancelledError):
            return False
        return self._ready_pool(self._min_shared) is not None

    def _ready_pool(self, count: int) -> ProcessPoolExecutor | None:
        if self.processes == 0 or count < self._min_shared:
            return None
        if self._pool is None:
            try:
                self._pool = helper_pool(self.processes, tuned=True)
            except HELPERS_UNAVAILABLE as exc:
                log.warning("cannot start summary processes (%s); summarising here", exc)
                self.processes = 0
                return None
            # A helper takes a few tenths of a second to start: flushes are summarised here
            # until the pool has answered as many calls as it has helpers, rather than wait.
            self._warming = [self._pool.submit(_ready) for _ in range(self.processes)]
        if self._warming:
            if not all(future.done() for future in self._warming):
                return None
            warming, self._warming = self._warming, []
            failed = next((e for e in (f.exception() for f in warming) if e is not None), None)
            if failed is not None:
                self._failed(failed)
                return None
        return self._pool

    def _here(self, revisions: Sequence[Revision], graph: Contribution) -> list[Outcome]:
        out: list[Outcome] = []
        for revision in revisions:
            try:
                out.append(summarize_revision(revision, self._classify, graph, self._tail))
            except Exception:  # a bug must cost one trace, never the pipeline
                log.exception("cannot summarise trace %s", revision.trace_id)
                out.append(None)
        return out

    def _collect(
        self, share: Sequence[Revision], future: "Future[bytes]", graph: Contribution
    ) -> list[Outcome] | None:
        """A helper's results, or None when it failed (then the helpers are restarted)."""
        try:
            records, counted = _SHARED.decode(future.result(HELPER_TIMEOUT_S))
        except Exception as exc:  # a dead or stuck helper, or a bug on it
            self._failed(exc)
            return None
        self._failures_in_a_row = 0
        self._shared.inc(len(share))
        add_into(graph, dict(counted))
        out: list[Outcome] = []
        for revision, result in zip(share, records, strict=True):
            if result is None:
                log.error("cannot summarise trace %s (see the summary process's log)",
                          revision.trace_id)  # fmt: skip
                out.append(None)
                continue
            record, groups, verdict = result
            if record is None:
                out.append(Withheld(verdict))
            else:
                out.append(Summarized(record, groups, None, verdict))
        return out

    def _failed(self, exc: BaseException) -> None:
        """Count a helper's failure, start new helpers for the next flush, or give up."""
        log.error("a summary process failed (%r); summarising its share here", exc)
        self._failures.inc()
        self._failures_in_a_row += 1
        self._restart()
        if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            log.error("summary processes failed %d times in a row; summarising here from now",
                      self._failures_in_a_row)  # fmt: skip
            self.processes = 0

    def _restart(self) -> None:
        self._warming = []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the helper processes (after the last flush)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class Pending:
    """The summaries of one flush, being made: call it for the results (it waits for the
    helpers' shares, if any)."""

    def __init__(
        self, finish: Callable[[], list[Outcome]], futures: Sequence["Future[bytes]"] = ()
    ) -> None:
        self._finish = finish
        self._futures = futures

    @property
    def shared(self) -> bool:
        """Whether helper processes have a share."""
        return bool(self._futures)

    def ready(self) -> bool:
        """Whether calling it would not wait for a helper."""
        return all(future.done() for future in self._futures)

    def __call__(self) -> list[Outcome]:
        return self._finish()


def summarize_shared(
    payload: bytes, definitions: tuple[GroupDefinition, ...], rules: tuple[TailSpec, ...]
) -> bytes:
    """On a helper: summarise a share of a flush; its records, and its contributions summed."""
    classify = _classifier(definitions)
    tail = _tail_sampler(rules)
    graph: Contribution = {}
    records: list[_Result | None] = []
    for revision in _REVISIONS.decode(payload):
        try:
            # Only the share's sum goes back: the collector recounts a trace when it needs to.
            outcome = summarize_revision(revision, classify, graph, tail, counted=False)
        except Exception:  # the collector summarises nothing twice; it drops this change
            log.exception("cannot summarise trace %s", revision.trace_id)
            records.append(None)
            continue
        if isinstance(outcome, Withheld):
            records.append((None, [], outcome.verdict))
        else:
            records.append((outcome.record, outcome.groups, outcome.tail))
    return _ENCODER.encode((records, list(graph.items())))


@functools.lru_cache(maxsize=4)
def _classifier(definitions: tuple[GroupDefinition, ...]) -> Classify:
    groups = Classifier(definitions)
    return lambda summary: ["", *groups(summary)]


@functools.lru_cache(maxsize=4)
def _tail_sampler(rules: tuple[TailSpec, ...]) -> TailSampler | None:
    return TailSampler.from_specs(rules) if rules else None


def _ready() -> None:
    """On a helper: nothing; answering shows the helper has started."""
