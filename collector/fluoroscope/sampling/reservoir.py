"""Head-sampling decisions made as the stock X-Ray SDK makes them: reservoir first, then rate.

Per matched rule and per wall-clock second (xray-protocol.md 6.4, aws-xray-sdk ``reservoir.py``
and ``sampler.py``):

1. with a quota from GetSamplingTargets whose TTL has not passed, take up to ``quota``
   requests; once they are used up, go on to the rate;
2. with no live quota, borrow one request per second if the rule's ReservoirSize is above 0;
3. otherwise sample when ``random() < rate``, the rate being the last target's FixedRate, else
   the rule's own.

Counting follows the SDK so that the collector's reports read like any client's: a take or a
rate hit adds to SampledCount, a borrow only to BorrowCount.

The collector is one more client of its own quotas. Every ``Interval`` seconds its owner does::

    reply = quotas.get_targets(sampler.statistics_documents(CLIENT_ID), rules, last_change)
    sampler.load_targets(reply.targets)
"""

import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, NamedTuple

from fluoroscope.sampling.matching import RuleSet, SamplingRequest
from fluoroscope.sampling.quotas import TargetDocument
from fluoroscope.sampling.rules import SamplingRule
from fluoroscope.sampling.statistics import StatisticSummary, StatisticWindows

Clock = Callable[[], float]
Random = Callable[[], float]


class Reason(StrEnum):
    """Why a decision came out as it did."""

    RESERVOIR = "reservoir"  # taken from the quota GetSamplingTargets granted
    BORROWED = "borrowed"  # borrowed while no quota was live
    RATE = "rate"  # the fixed rate's draw said yes
    NOT_SAMPLED = "not_sampled"  # the fixed rate's draw said no


class Decision(NamedTuple):
    """A sampling decision and the rule that made it.

    ``probability`` is the chance this path had of sampling the request: 1.0 when the
    reservoir took or lent it, the rule's rate otherwise. (A tuple: one is made per request.)
    """

    sampled: bool
    rule_name: str
    probability: float
    reason: Reason


class _RuleState:
    """One rule's reservoir, its rate and the counts not reported yet."""

    __slots__ = (
        "borrowed",
        "can_borrow",
        "pending",
        "quota",
        "quota_ttl",
        "rate",
        "second",
        "taken",
    )

    def __init__(self, rule: SamplingRule) -> None:
        self.rate = rule.fixed_rate
        self.can_borrow = rule.reservoir_size > 0
        self.quota: int | None = None
        self.quota_ttl = 0.0
        self.second = -1
        self.taken = 0
        self.borrowed = 0
        self.pending = [0, 0, 0]  # requests, sampled, borrowed since the last report

    def follow(self, rule: SamplingRule) -> None:
        """Take a changed rule's definition; the quota stays until a target replaces it."""
        self.rate = rule.fixed_rate
        self.can_borrow = rule.reservoir_size > 0


class Sampler:
    """Decides per request by a :class:`RuleSet`, with an injected clock and random source.

    ``clock`` returns epoch seconds; ``random`` returns floats in [0, 1), for example
    ``random.Random(seed).random``. Calls may come from any thread. Memory is bounded by the
    rule count and the statistics windows kept.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        clock: Clock,
        random: Random,
        *,
        windows: StatisticWindows | None = None,
    ) -> None:
        self._clock = clock
        self._random = random
        # Guards the reservoirs and counters, which decide() updates from any thread.
        self._lock = threading.Lock()
        self._ruleset = ruleset
        self._states = {rule.rule_name: _RuleState(rule) for rule in ruleset.rules}
        self._windows = windows if windows is not None else StatisticWindows()

    @property
    def ruleset(self) -> RuleSet:
        """The rules decisions are made by."""
        return self._ruleset

    def decide(self, request: SamplingRequest, random: Random | None = None) -> Decision:
        """Pick the rule for ``request`` and decide whether to sample it.

        ``random`` replaces the random source for this decision's fixed-rate test: the
        collector draws from a hash of the trace id, so that deciding a trace again gives the
        same answer. It is called only when a rate strictly between 0 and 1 is tested.
        """
        now = self._clock()
        second = int(now)
        with self._lock:
            # Matched under the lock so that the rule and its state come from one rule set.
            name = self._ruleset.match(request).rule_name
            state = self._states[name]
            if second != state.second:
                state.second = second
                state.taken = 0
                state.borrowed = 0
            if state.quota is not None and state.quota_ttl >= second:
                if state.taken < state.quota:
                    state.taken += 1
                    return self._count(state, name, now, Reason.RESERVOIR)
            elif state.can_borrow and state.borrowed < 1:
                state.borrowed += 1
                return self._count(state, name, now, Reason.BORROWED)
            rate = state.rate
            if rate >= 1.0:
                reason = Reason.RATE
            elif rate <= 0.0:
                reason = Reason.NOT_SAMPLED
            else:
                draw = (random or self._random)()
                reason = Reason.RATE if draw < rate else Reason.NOT_SAMPLED
            return self._count(state, name, now, reason, rate)

    def _count(
        self, state: _RuleState, name: str, now: float, reason: Reason, probability: float = 1.0
    ) -> Decision:
        sampled = 1 if reason is Reason.RESERVOIR or reason is Reason.RATE else 0
        borrowed = 1 if reason is Reason.BORROWED else 0
        pending = state.pending
        pending[0] += 1
        pending[1] += sampled
        pending[2] += borrowed
        self._windows.add(name, now, 1, sampled, borrowed)
        return Decision(reason is not Reason.NOT_SAMPLED, name, probability, reason)

    def update_rules(self, ruleset: RuleSet) -> None:
        """Decide by new rules; a rule that keeps its name keeps its quota and its counts."""
        with self._lock:
            states = {}
            for rule in ruleset.rules:
                state = self._states.get(rule.rule_name)
                if state is None:
                    state = _RuleState(rule)
                else:
                    state.follow(rule)
                states[rule.rule_name] = state
            for name in self._states.keys() - states.keys():
                self._windows.forget(name)
            self._ruleset = ruleset
            self._states = states

    def load_targets(self, targets: Iterable[TargetDocument]) -> None:
        """Apply GetSamplingTargets answers: rate, quota and quota TTL for each named rule.

        A target for a rule this sampler does not know is ignored, as the stock SDK does.
        """
        with self._lock:
            for target in targets:
                state = self._states.get(target.rule_name)
                if state is None:
                    continue
                state.rate = target.fixed_rate
                if target.reservoir_quota is not None:
                    state.quota = target.reservoir_quota
                if target.reservoir_quota_ttl is not None:
                    state.quota_ttl = target.reservoir_quota_ttl

    def statistics_documents(self, client_id: str) -> list[dict[str, Any]]:
        """SamplingStatisticsDocuments for the rules matched since the last call, then reset.

        Like the stock SDK, a rule is reported only if it matched at least one request.
        """
        now = int(self._clock())
        documents = []
        with self._lock:
            for name, state in self._states.items():
                requests, sampled, borrowed = state.pending
                if requests == 0:
                    continue
                state.pending = [0, 0, 0]
                documents.append(
                    {
                        "RuleName": name,
                        "ClientID": client_id,
                        "RequestCount": requests,
                        "SampledCount": sampled,
                        "BorrowCount": borrowed,
                        "Timestamp": now,
                    }
                )
        return documents

    def summaries(self) -> list[StatisticSummary]:
        """This sampler's own counts in 10-second windows, oldest first."""
        with self._lock:
            return self._windows.summaries()
