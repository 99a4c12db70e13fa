"""Classifying traces into groups: each group's filter expression, parsed once, tested per trace.

A :class:`Classifier` is built from plain definitions (name, ARN, filter text), so that a
helper process summarising traces classifies them exactly as the collector's own thread does.
"""

from typing import Protocol

from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters.ast import Node
from fluoroscope.filters.evaluate import Predicate, predicate
from fluoroscope.filters.parser import parse
from fluoroscope.model.summary import TraceSummary

# (name, ARN, filter expression or None: the group takes every trace).
GroupDefinition = tuple[str, str, str | None]


class Groups(Protocol):
    """The groups traces are classified into (for the service graph's group statistics)."""

    def classify(self, summary: TraceSummary) -> list[str]:
        """The names of the groups the trace belongs to."""
        ...

    def definitions(self) -> tuple[GroupDefinition, ...]:
        """Every group, for classifying in helper processes."""
        ...


def _never(summary: TraceSummary) -> bool:
    del summary
    return False


class Classifier:
    """The groups a trace belongs to, by their filters."""

    def __init__(self, definitions: tuple[GroupDefinition, ...] = ()) -> None:
        self.definitions = definitions
        # Name and ARN -> parsed filter (None: the group has no filter and matches everything).
        self.filters: dict[str, Node | None] = {}
        unparsable: set[str] = set()
        for name, arn, text in definitions:
            parsed = None
            if text:
                try:
                    parsed = parse(text)
                except FilterSyntaxError:
                    # Stored by a version with another grammar: it matches nothing new.
                    unparsable.add(name)
            self.filters[name] = parsed
            self.filters[arn] = parsed
        self._tests: list[tuple[str, Predicate | None]] = []
        for name, _, _ in definitions:
            node = self.filters[name]
            if name in unparsable:
                self._tests.append((name, _never))
            else:
                self._tests.append((name, None if node is None else predicate(node, self.filters)))

    def __call__(self, summary: TraceSummary) -> list[str]:
        """The names of the groups whose filters the trace matches."""
        return [name for name, test in self._tests if test is None or test(summary)]
