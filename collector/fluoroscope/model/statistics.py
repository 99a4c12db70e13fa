"""A trace's contribution to the service graph's per-minute statistics.

Each completed visit counts for its node, each completed call for its edge, in the minute it
ended. An inferred node (a callee that sent nothing) has no statistics of its own: they are
those of the edges into it, summed when the graph is read. A trace's
contribution is recomputed whole at every revision and the store applies only the difference
from the previous one, so every entity counts exactly once however often its trace changes.

Response times go into :data:`BUCKETS` log-spaced buckets (milliseconds doubling from 1 ms to
16 s); X-Ray does not publish its bucketing, and a histogram entry reports its bucket's
geometric middle.
"""

import math
from collections.abc import Sequence
from operator import add

from fluoroscope.model.facts import TraceFacts
from fluoroscope.model.services import ServiceId

BUCKETS = 16
MINUTE = 60

# (group, kind "n" node | "e" edge, minute, source, target or None); group "" is every trace.
StatKey = tuple[str, str, int, ServiceId, ServiceId | None]
# ok, error, throttle, fault, total, total response time, then BUCKETS histogram counts.
STAT_WIDTH = 6 + BUCKETS
Contribution = dict[StatKey, list[float]]


def bucket_value(bucket: int) -> float:
    """The response time (seconds) a bucket reports."""
    if bucket == 0:
        return 0.0005
    low = 2.0 ** (bucket - 1)
    return round(low * math.sqrt(2.0) / 1000.0, 6)


def contribution(
    facts: TraceFacts,
    groups: Sequence[str] = ("",),
    weight: float = 1.0,
    into: Contribution | None = None,
    *,
    own: bool = True,
) -> Contribution:
    """Per-minute node and edge statistics of a trace's completed visits and calls.

    The trace counts ``weight`` times for each of ``groups`` ("" standing for all traces): a
    trace kept with probability p stands for 1/p like it, so sums estimate the traffic that
    arrived rather than the traffic kept. ``into``, when given, receives the same additions
    (a batch's total): four additions an entity instead of adding whole rows afterwards.
    With ``own=False`` only ``into`` receives them, and the result is empty (for a caller that
    keeps no trace's own contribution: the summary helpers).
    """
    # (kind, minute, source, target, status column, seconds); written out inline because this
    # runs for every entity of every trace revision.
    counted: list[tuple[str, int, ServiceId, ServiceId | None, int, float]] = [
        ("n", int(v.end // MINUTE) * MINUTE, v.service, None, v.status, v.end - v.start)
        for v in facts.visits
        if not v.in_progress
    ]
    counted += [
        ("e", int(c.end // MINUTE) * MINUTE, c.source, c.target, c.status, c.end - c.start)
        for c in facts.calls
        if not c.in_progress
    ]
    out: Contribution = {}
    get = out.get
    last = BUCKETS - 1
    for group in groups:
        for kind, minute, source, target, status, seconds in counted:
            key = (group, kind, minute, source, target)
            bucket = 6 + (min(last, int(seconds * 1000.0).bit_length()) if seconds > 0 else 0)
            time_spent = seconds * weight
            if own:
                values = get(key)
                if values is None:
                    values = out[key] = [0.0] * STAT_WIDTH
                values[status] += weight  # Status values are the column numbers 0-3
                values[4] += weight
                values[5] += time_spent
                values[bucket] += weight
            if into is not None:
                total = into.get(key)
                if total is None:
                    total = into[key] = [0.0] * STAT_WIDTH
                total[status] += weight
                total[4] += weight
                total[5] += time_spent
                total[bucket] += weight
    return out


def difference(new: Contribution, old: Contribution) -> Contribution:
    """``new`` minus ``old``, leaving out keys whose statistics did not change."""
    delta: Contribution = {}
    for key in new.keys() | old.keys():
        after = new.get(key)
        before = old.get(key)
        if after is None:
            assert before is not None
            delta[key] = [-value for value in before]
        elif before is None:
            delta[key] = list(after)
        elif after != before:
            delta[key] = [a - b for a, b in zip(after, before, strict=True)]
    return delta


def add_into(total: Contribution, part: Contribution) -> None:
    """Accumulate ``part`` into ``total``."""
    for key, values in part.items():
        current = total.get(key)
        if current is None:
            total[key] = list(values)
        else:
            current[:] = map(add, current, values)
