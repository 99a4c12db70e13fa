"""Per-rule sampling counts in fixed 10-second windows, keeping only the most recent windows.

X-Ray's ``SamplingStatisticSummary`` aggregates one rule across all services for a 10-second
window (botocore model; the console draws 10-second trends, xray-protocol.md 6.8). Counts are
kept as reported: whether SampledCount includes borrowed samples depends on the SDK
(xray-protocol.md 6.4), so nothing here adds or subtracts them.
"""

from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 10
# One hour of history: the span the console's sampling view looks back over.
RETAINED_WINDOWS = 360
# The API's counts are 32-bit integers; sums of many clients' reports can pass that, and are
# then returned as the largest count it can carry.
MAX_COUNT = 2**31 - 1
# Rules per window. Only rules that exist are counted and at most 26 exist at once, so this
# binds only when rules are created and deleted many times within one window.
MAX_RULES_PER_WINDOW = 64


@dataclass(frozen=True, slots=True)
class StatisticSummary:
    """One rule's counts over one window that starts at ``timestamp`` (epoch seconds)."""

    rule_name: str
    timestamp: float
    request_count: int
    sampled_count: int
    borrow_count: int

    def to_api(self) -> dict[str, Any]:
        """The botocore ``SamplingStatisticSummary`` structure."""
        return {
            "RuleName": self.rule_name,
            "Timestamp": self.timestamp,
            "RequestCount": min(self.request_count, MAX_COUNT),
            "BorrowCount": min(self.borrow_count, MAX_COUNT),
            "SampledCount": min(self.sampled_count, MAX_COUNT),
        }


class StatisticWindows:
    """Counts by rule in consecutive windows of ``width`` seconds, the newest ``retain`` only.

    Not thread-safe: its owner serializes calls. Counts that cannot be kept (for a window older
    than every retained one, or a rule past ``max_rules`` in its window) are counted in
    :attr:`dropped`.
    """

    __slots__ = (
        "_current",
        "_current_index",
        "_max_rules",
        "_retain",
        "_width",
        "_windows",
        "dropped",
    )

    def __init__(
        self,
        *,
        width: int = WINDOW_SECONDS,
        retain: int = RETAINED_WINDOWS,
        max_rules: int = MAX_RULES_PER_WINDOW,
    ) -> None:
        if width <= 0 or retain <= 0 or max_rules <= 0:
            raise ValueError("width, retain and max_rules must be positive")
        self._width = width
        self._retain = retain
        self._max_rules = max_rules
        # Window index (start // width) -> rule name -> [requests, sampled, borrowed].
        self._windows: dict[int, dict[str, list[int]]] = {}
        self._current_index: int | None = None
        self._current: dict[str, list[int]] = {}
        self.dropped = 0

    def add(self, rule_name: str, at: float, requests: int, sampled: int, borrowed: int) -> None:
        """Add counts for ``rule_name`` to the window that holds time ``at``."""
        index = int(at // self._width)
        counts = self._current if index == self._current_index else self._window(index)
        if counts is None:
            self.dropped += 1
            return
        row = counts.get(rule_name)
        if row is None:
            if len(counts) >= self._max_rules:
                self.dropped += 1
                return
            row = counts[rule_name] = [0, 0, 0]
        row[0] += requests
        row[1] += sampled
        row[2] += borrowed

    def summaries(self) -> list[StatisticSummary]:
        """Every retained window's counts, oldest window first, then by rule name.

        The window in progress is included with what it has so far.
        """
        return [
            StatisticSummary(name, float(index * self._width), *row)
            for index in sorted(self._windows)
            for name, row in sorted(self._windows[index].items())
        ]

    def forget(self, rule_name: str) -> None:
        """Drop every count of ``rule_name`` (a deleted rule)."""
        for counts in self._windows.values():
            counts.pop(rule_name, None)

    def _window(self, index: int) -> dict[str, list[int]] | None:
        counts = self._windows.get(index)
        if counts is None:
            if len(self._windows) >= self._retain and index < min(self._windows):
                return None  # older than everything kept: a clock that went back a long way
            counts = self._windows[index] = {}
            while len(self._windows) > self._retain:
                del self._windows[min(self._windows)]
        if self._current_index is None or index >= self._current_index:
            self._current_index = index
            self._current = counts
        return counts
