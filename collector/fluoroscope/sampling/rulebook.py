"""Every sampling rule, in memory, with X-Ray's create / update / delete semantics.

At most 26 rules exist, so the whole book lives in memory; a store persists :meth:`RuleBook.rules`
and :attr:`RuleBook.last_modification` after each change and hands them back at start-up.
Errors follow the botocore model, whose sampling CRUD operations declare only
``InvalidRequestException`` (and ``RuleLimitExceededException`` for create), so an unknown rule is
an ``InvalidRequestException`` too (xray-protocol.md 6.9).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from fluoroscope.sampling.matching import RuleSet
from fluoroscope.sampling.rules import (
    DEFAULT_RULE_NAME,
    RULE_COUNT_LIMIT,
    RuleError,
    SamplingRule,
    apply_update,
    check_deletable,
    check_rule_count,
    default_rule,
    rule_arn,
    rule_name_of,
)

Clock = Callable[[], float]


class RuleBook:
    """The rules GetSamplingRules serves, always including ``Default``.

    ``region`` and ``account`` go into the ARNs of the rules it creates. ``rules`` and
    ``last_modification`` restore a saved book; a missing ``Default`` is created. Not
    thread-safe: its owner serializes calls (the API handles them on one event loop).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        region: str = "us-east-1",
        account: str = "000000000000",
        rules: Iterable[SamplingRule] = (),
        last_modification: float = 0.0,
        limit: int = RULE_COUNT_LIMIT,
    ) -> None:
        self._clock = clock
        self._region = region
        self._account = account
        self._limit = limit
        self._rules: dict[str, SamplingRule] = {}
        for rule in rules:
            if rule.rule_name in self._rules:
                raise ValueError(f"two saved sampling rules are named {rule.rule_name!r}")
            self._rules[rule.rule_name] = rule
        if DEFAULT_RULE_NAME not in self._rules:
            now = clock()
            self._rules[DEFAULT_RULE_NAME] = default_rule(
                region=region, account=account, created_at=now, modified_at=now
            )
        self._last_modification = max(
            last_modification, *(rule.modified_at for rule in self._rules.values())
        )
        self._ruleset: RuleSet | None = None

    @property
    def last_modification(self) -> float:
        """When a rule was last created, updated or deleted: GetSamplingTargets'
        ``LastRuleModification``."""
        return self._last_modification

    def rules(self) -> list[SamplingRule]:
        """Every rule in evaluation order: by (Priority, RuleName), ``Default`` last."""
        return sorted(self._rules.values(), key=lambda rule: (rule.priority, rule.rule_name))

    def records(self) -> list[dict[str, Any]]:
        """GetSamplingRules' ``SamplingRuleRecords``, in evaluation order."""
        return [rule.to_record() for rule in self.rules()]

    def get(self, name: str) -> SamplingRule | None:
        """The rule called ``name``, if it exists."""
        return self._rules.get(name)

    def ruleset(self) -> RuleSet:
        """The rules compiled for matching; compiled again only after a change."""
        if self._ruleset is None:
            self._ruleset = RuleSet(self._rules.values())
        return self._ruleset

    def create(self, rule: object) -> SamplingRule:
        """CreateSamplingRule: add a rule from a botocore ``SamplingRule`` structure."""
        now = self._clock()
        new = SamplingRule.from_api(rule, created_at=now, modified_at=now)
        if new.rule_name in self._rules:
            raise RuleError("RuleName", f"a sampling rule named {new.rule_name!r} already exists")
        check_rule_count(len(self._rules) - 1, self._limit)
        # Whatever ARN the caller sent, the rule's ARN is this collector's.
        new = replace(new, rule_arn=rule_arn(new.rule_name, self._region, self._account))
        self._changed(now, new)
        return new

    def update(self, update: object) -> SamplingRule:
        """UpdateSamplingRule: change the rule a botocore ``SamplingRuleUpdate`` names."""
        if not isinstance(update, Mapping):
            raise RuleError("SamplingRuleUpdate", "must be an object")
        now = self._clock()
        changed = apply_update(self._find(update), update, now=now)
        self._changed(now, changed)
        return changed

    def delete(self, request: Mapping[str, Any]) -> SamplingRule:
        """DeleteSamplingRule: remove the rule named by ``RuleName`` or ``RuleARN``."""
        rule = self._find(request)
        check_deletable(rule)
        del self._rules[rule.rule_name]
        self._changed(self._clock())
        return rule

    def snapshot(self) -> dict[str, SamplingRule]:
        """The rules as they are, for :meth:`restore` if a change cannot be saved."""
        return dict(self._rules)

    def restore(self, rules: dict[str, SamplingRule]) -> None:
        """Go back to a snapshot. It counts as a change: a client may have fetched the rules
        in between, and must fetch them again."""
        self._rules = dict(rules)
        self._changed(self._clock())

    def _find(self, request: Mapping[str, Any]) -> SamplingRule:
        name = rule_name_of(request)
        rule = self._rules.get(name)
        if rule is None:
            raise RuleError("RuleName", f"no sampling rule named {name!r}")
        return rule

    def _changed(self, now: float, rule: SamplingRule | None = None) -> None:
        if rule is not None:
            self._rules[rule.rule_name] = rule
        # Never backwards: clients refetch rules only when this moves past their last fetch.
        self._last_modification = max(self._last_modification, now)
        self._ruleset = None
