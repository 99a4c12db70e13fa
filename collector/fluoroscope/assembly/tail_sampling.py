"""Tail sampling: keeping or dropping whole assembled traces by rules on what they turned out to be.

Rules are tried in order and the first whose condition holds decides: it keeps the trace with its
probability (1 by default), drawn from a hash of the trace id so that a trace decided again
decides alike. A trace no rule matches is dropped. A condition is an X-Ray filter expression, so
"every trace with a fault" is ``fault``, "slower than 2 s" is ``duration > 2``, and any
GetTraceSummaries filter works; a rule without one matches every trace.

A trace is decided when it is complete (its entry segment closed, nothing in progress, every
parent present) or when the decision wait since its first document has passed.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluoroscope.assembly.decisions import TAIL, Verdict, uniform_draw
from fluoroscope.errors import FilterSyntaxError
from fluoroscope.filters import parse, predicate
from fluoroscope.filters.evaluate import Predicate
from fluoroscope.model.summary import TraceSummary

# The verdict's rule when none matched.
NO_RULE = "(no rule matched)"
MAX_RULES = 64
_SALT = b"fluoroscope-tail"


@dataclass(frozen=True, slots=True)
class TailRule:
    """Keep traces matching ``condition`` (every trace when None) with ``probability``."""

    name: str
    condition: Predicate | None
    probability: float
    # The condition's filter expression, as configured.
    filter: str | None


class TailRuleError(ValueError):
    """A tail-sampling rule that cannot be used, with what is wrong with it."""


def parse_rules(specs: Sequence[Mapping[str, Any]]) -> list[TailRule]:
    """Rules from their configuration: tables of ``name``, optional ``filter`` and ``keep``."""
    if len(specs) > MAX_RULES:
        raise TailRuleError(f"at most {MAX_RULES} tail-sampling rules")
    rules: list[TailRule] = []
    names: set[str] = set()
    for position, spec in enumerate(specs, 1):
        name = spec.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            raise TailRuleError(f"rule {position}: 'name' must be a string of 1-64 characters")
        if name in names:
            raise TailRuleError(f"rule {position}: two rules are named {name!r}")
        names.add(name)
        unknown = set(spec) - {"name", "filter", "keep"}
        if unknown:
            raise TailRuleError(f"rule {name!r}: unknown keys {', '.join(sorted(unknown))}")
        text = spec.get("filter")
        condition = None
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise TailRuleError(f"rule {name!r}: 'filter' must be a filter expression")
            try:
                condition = predicate(parse(text))
            except FilterSyntaxError as exc:
                raise TailRuleError(f"rule {name!r}: {exc}") from None
        keep = spec.get("keep", 1.0)
        if isinstance(keep, bool) or not isinstance(keep, int | float) or not 0 <= keep <= 1:
            raise TailRuleError(f"rule {name!r}: 'keep' must be a probability from 0 to 1")
        rules.append(TailRule(name, condition, float(keep), text))
    return rules


# A rule as it crosses to a summary process: name, filter expression, probability.
TailSpec = tuple[str, str | None, float]


class TailSampler:
    """Decides assembled traces by an ordered list of :class:`TailRule`."""

    def __init__(self, rules: Sequence[TailRule]) -> None:
        self.rules = list(rules)
        self.specs: tuple[TailSpec, ...] = tuple(
            (rule.name, rule.filter, rule.probability) for rule in self.rules
        )

    @classmethod
    def from_specs(cls, specs: Sequence[TailSpec]) -> "TailSampler":
        """The sampler whose :attr:`specs` these are (rebuilt in a summary process)."""
        return cls(
            parse_rules(
                [
                    {"name": name, "keep": keep} | ({} if text is None else {"filter": text})
                    for name, text, keep in specs
                ]
            )
        )

    def decide(self, summary: TraceSummary) -> Verdict:
        """The first matching rule's verdict; traces no rule matches are dropped."""
        for rule in self.rules:
            if rule.condition is None or rule.condition(summary):
                if rule.probability >= 1.0:
                    return Verdict(True, rule.name, 1.0, TAIL)
                kept = uniform_draw(summary.trace_id, _SALT) < rule.probability
                return Verdict(kept, rule.name, rule.probability, TAIL)
        return Verdict(False, NO_RULE, 0.0, TAIL)
