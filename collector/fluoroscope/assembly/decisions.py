"""Sampling verdicts on whole traces, and the bounded memory of the traces dropped.

A trace is decided once; the verdict must hold for every later document of that trace, which
may come minutes after the trace left the in-flight buffer. A kept trace is in the store, which
says so when its late documents reload it. A dropped one leaves no trace there, so
:class:`DecisionMemory` keeps the most recent drops within a fixed count. Beyond it a trace is
decided again; the probabilistic part of every decision draws from a hash of the trace id
(:func:`uniform_draw`), so deciding again gives the same answer unless a reservoir or the trace
itself has changed since.
"""

import hashlib
from typing import NamedTuple

# Where a verdict came from.
HEAD = "head"
TAIL = "tail"
UPSTREAM = "upstream"
STORED = "stored"  # kept earlier: the store has the trace


class Verdict(NamedTuple):
    """Whether a trace is kept, the rule that said so, and the chance it had of being kept."""

    kept: bool
    rule: str
    probability: float
    stage: str

    @property
    def weight(self) -> float:
        """How many arriving traces a kept trace stands for in the graph statistics."""
        return 1.0 / self.probability if self.probability > 0.0 else 1.0


# The verdict of traces nothing samples (no head nor tail sampling configured).
KEEP_ALL = Verdict(True, "", 1.0, "")


def kept(head: Verdict | None, tail: Verdict | None) -> Verdict:
    """The verdict recorded on a kept trace: the deciding rule, and the chance it had of being
    kept through both stages (the product of their probabilities)."""
    decider = tail or head
    assert decider is not None
    if head is None or tail is None:
        return decider
    return Verdict(True, decider.rule, head.probability * tail.probability, decider.stage)


def uniform_draw(trace_id: str, salt: bytes) -> float:
    """A number in [0, 1) fixed by the trace id; ``salt`` makes head and tail draws independent."""
    digest = hashlib.blake2b(trace_id.encode(), digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class DecisionMemory:
    """The verdicts of the last ``capacity`` traces dropped, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._verdicts: dict[str, Verdict] = {}

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, trace_id: str) -> Verdict | None:
        """The verdict on ``trace_id``, if it is still remembered."""
        return self._verdicts.get(trace_id)

    def remember(self, trace_id: str, verdict: Verdict) -> None:
        """Record a verdict, forgetting the oldest one when full."""
        verdicts = self._verdicts
        verdicts.pop(trace_id, None)
        verdicts[trace_id] = verdict
        if len(verdicts) > self.capacity:
            # dicts keep insertion order: the first key is the oldest verdict.
            del verdicts[next(iter(verdicts))]
