"""Rule matching: X-Ray's wildcards, compiled once, and the first-match pick over a rule set.

Wildcards (xray-protocol.md 6.3): ``*`` matches any run of characters, ``?`` exactly one, the
whole string must match, and case is ignored. Case is ignored by comparing
``str.casefold()`` forms; the stock SDK lowers one character at a time, which differs only for
the few characters whose folded form is longer (``ß``, ``İ``, ligatures).

A :class:`RuleSet` compiles all its rules into one regular expression over the five request
attributes joined by NUL, with one alternative per rule in (Priority, RuleName) order: the
``re`` engine tries alternatives left to right, so the first full match is the first matching
rule, and an empty group closing each alternative says which one it was. The attributes are
joined most selective first (the one fewest rules leave as ``*``), so that an alternative that
cannot match fails on its first character; when that attribute is present, a second expression
whose alternatives begin with its plain pattern lets ``re`` skip them without entering them.

Each ``*`` other than the last in a pattern becomes an atomic lazy scan: taking the leftmost
place where a star's next literal run fits is always safe for glob patterns, and it keeps
matching linear in the request's length whatever the rule author wrote.
"""

import operator
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from fluoroscope.sampling.rules import DEFAULT_RULE_NAME, SamplingRule, default_rule

# Joins the five attributes into one key; wildcards never match it, so no field can overflow
# into the next. A request attribute that contains it is matched rule by rule instead.
_SEP = "\x00"
_FIELD_ANY = "[^\x00]"


class SamplingRequest(NamedTuple):
    """What a sampling decision looks at; a None or empty attribute matches every pattern.

    The stock SDK passes only the service name and its origin for a plain segment, and adds
    host, method and path from the web framework (xray-protocol.md 6.3).
    """

    service_name: str | None = None
    service_type: str | None = None
    host: str | None = None
    http_method: str | None = None
    url_path: str | None = None


def wildcard_regex(pattern: str, any_char: str = ".") -> str:
    """The regular expression (without anchors) for a wildcard pattern, already case-folded.

    ``any_char`` is what ``?`` and ``*`` may consume; compile with ``re.DOTALL`` when it is ``.``.
    """
    parts = pattern.casefold().split("*")
    regex = _literal(parts[0], any_char)
    if len(parts) == 1:
        return regex
    for middle in parts[1:-1]:
        if middle:  # consecutive stars are one star
            regex += f"(?>{any_char}*?{_literal(middle, any_char)})"
    return regex + f"{any_char}*{_literal(parts[-1], any_char)}"


def _literal(text: str, any_char: str) -> str:
    return "".join(any_char if char == "?" else re.escape(char) for char in text)


class WildcardPattern:
    """One wildcard pattern compiled once: ``WildcardPattern("api-*").matches("API-v2")``."""

    __slots__ = ("_fullmatch", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._fullmatch = re.compile(wildcard_regex(pattern), re.DOTALL).fullmatch

    def matches(self, text: str) -> bool:
        """Whether the whole of ``text`` matches, ignoring case."""
        return self._fullmatch(text.casefold()) is not None

    def __repr__(self) -> str:
        return f"WildcardPattern({self.pattern!r})"


def is_matchable(rule: SamplingRule) -> bool:
    """Whether the stock SDK would use ``rule`` at all (xray-protocol.md 6.2, wire-captures 2).

    The SDK drops a rule unless Version is 1, ResourceARN is ``*``, ServiceType is non-empty
    and Attributes is empty; the collector does the same so that its decisions agree.
    """
    return (
        rule.version == 1
        and rule.resource_arn == "*"
        and bool(rule.service_type)
        and not rule.attributes
    )


def _patterns(rule: SamplingRule) -> tuple[str, str, str, str, str]:
    return (rule.service_name, rule.service_type, rule.host, rule.http_method, rule.url_path)


class RuleSet:
    """Rules in (Priority, RuleName) order, compiled once, that pick the rule for a request.

    The first matching rule wins; the rule named ``Default`` is the catch-all even when its
    own matchers would not match, and rules ordered after it are never reached, as in the
    stock SDK's rule cache. Rules the SDK ignores (see :func:`is_matchable`) are left out and
    listed in :attr:`ignored`. When no ``Default`` is given, the built-in one is used. Rule
    names are expected to be unique, which :class:`~fluoroscope.sampling.RuleBook` guarantees.
    """

    __slots__ = (
        "_fallback",
        "_fields",
        "_fullmatch",
        "_fullmatch_led",
        "default",
        "examines_url",
        "ignored",
        "rules",
    )

    def __init__(self, rules: Iterable[SamplingRule]) -> None:
        ordered = sorted(rules, key=lambda rule: (rule.priority, rule.rule_name))
        candidates: list[SamplingRule] = []
        ignored: list[str] = []
        default: SamplingRule | None = None
        for rule in ordered:
            if rule.rule_name == DEFAULT_RULE_NAME:
                default = rule
                break
            if is_matchable(rule):
                candidates.append(rule)
            else:
                ignored.append(rule.rule_name)
        self.default = default if default is not None else default_rule()
        #: The rules in evaluation order; the last is always ``Default``.
        self.rules = (*candidates, self.default)
        #: Names of the rules left out because the stock SDK would ignore them.
        self.ignored = tuple(ignored)
        #: Whether any rule tests the host or the URL path (else a caller need not find them).
        self.examines_url = any(r.host != "*" or r.url_path != "*" for r in candidates)
        self._fallback = [
            (rule, tuple(WildcardPattern(pattern) for pattern in _patterns(rule)))
            for rule in candidates
        ]
        patterns = [_patterns(rule) for rule in candidates]
        wild = [sum(fields[i] == "*" for fields in patterns) for i in range(5)]
        order = sorted(range(5), key=wild.__getitem__)
        self._fields: Callable[[SamplingRequest], tuple[str, ...]] = operator.itemgetter(*order)
        self._fullmatch = _compile(patterns, order, lead_present=False)
        self._fullmatch_led = _compile(patterns, order, lead_present=True)

    def match(self, request: SamplingRequest) -> SamplingRule:
        """The rule that decides for ``request``: the first that matches, else ``Default``."""
        fields = self._fields(request)
        if None in fields:  # a None attribute matches like an empty one
            fields = tuple([value or "" for value in fields])
        key = _SEP.join(fields).casefold()
        if key.count(_SEP) != 4:
            return self._match_each(request)
        found = (self._fullmatch_led if fields[0] else self._fullmatch)(key)
        if found is None:
            return self.default
        # Group k closes alternative k; with no group the index is -1, which is Default.
        return self.rules[(found.lastindex or 0) - 1]

    def get(self, name: str) -> SamplingRule | None:
        """The rule called ``name`` among those this set can pick, if any."""
        return next((rule for rule in self.rules if rule.rule_name == name), None)

    def _match_each(self, request: SamplingRequest) -> SamplingRule:
        for rule, patterns in self._fallback:
            if all(
                not value or pattern.matches(value)
                for value, pattern in zip(request, patterns, strict=True)
            ):
                return rule
        return self.default

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"RuleSet({[rule.rule_name for rule in self.rules]!r})"


def _compile(
    patterns: list[tuple[str, str, str, str, str]], order: list[int], *, lead_present: bool
) -> Callable[[str], re.Match[str] | None]:
    # With the leading attribute known to be present, each alternative can start with that
    # pattern's plain literal, which sre checks before entering the alternative at all.
    branches = "|".join(
        _SEP.join(_field(fields[i], present=lead_present and i == order[0]) for i in order) + "()"
        for fields in patterns
    )
    return re.compile(branches or "(?!)").fullmatch


def _field(pattern: str, *, present: bool) -> str:
    if pattern == "*":
        return f"{_FIELD_ANY}*"
    if _SEP in pattern:
        # Keys reaching the combined expression hold no NUL inside a field, so such a pattern
        # can only match an empty attribute, which every pattern matches.
        return "(?!)" if present else ""
    if present:
        return wildcard_regex(pattern, _FIELD_ANY)
    # The empty alternative lets an empty attribute match any pattern, as the stock SDK does.
    # It is written "(?:p|)" rather than "(?:p)?", which costs sre a repeat frame per field.
    return f"(?:{wildcard_regex(pattern, _FIELD_ANY)}|)"
