"""Sampling by X-Ray rules: matching, reservoirs and quotas, for SDKs and for what arrives.

Pure and clock-injected: nothing here does I/O. The pieces and who calls them:

* :class:`RuleBook` holds the rules with X-Ray's CRUD semantics (Create/Update/Delete
  SamplingRule, GetSamplingRules) and knows ``LastRuleModification``; :class:`SamplingRule`
  parses, validates and serves the botocore shapes and raises :class:`RuleError`.
* :class:`RuleSet` compiles rules once and picks the rule for a :class:`SamplingRequest`.
* :class:`Sampler` makes the collector's own head-sampling :class:`Decision` as the stock SDK
  would: reservoir per second, then fixed rate.
* :class:`Quotas` answers GetSamplingTargets by splitting each rule's reservoir among the
  clients using it, and keeps the 10-second :class:`StatisticSummary` windows that
  GetSamplingStatisticSummaries returns.

``fluoroscope.sampling.bench.benchmark_matching()`` times rule matching.
"""

from fluoroscope.sampling.matching import (
    RuleSet,
    SamplingRequest,
    WildcardPattern,
    is_matchable,
)
from fluoroscope.sampling.quotas import (
    Quotas,
    StatisticsDocument,
    TargetDocument,
    TargetsReply,
    UnprocessedStatistic,
)
from fluoroscope.sampling.reservoir import Decision, Reason, Sampler
from fluoroscope.sampling.rulebook import RuleBook
from fluoroscope.sampling.rules import (
    DEFAULT_RULE_NAME,
    RULE_COUNT_LIMIT,
    RateBoost,
    RuleError,
    SamplingRule,
    apply_update,
    default_rule,
    rule_arn,
)
from fluoroscope.sampling.statistics import StatisticSummary, StatisticWindows

__all__ = [
    "DEFAULT_RULE_NAME",
    "RULE_COUNT_LIMIT",
    "Decision",
    "Quotas",
    "RateBoost",
    "Reason",
    "RuleBook",
    "RuleError",
    "RuleSet",
    "Sampler",
    "SamplingRequest",
    "SamplingRule",
    "StatisticSummary",
    "StatisticWindows",
    "StatisticsDocument",
    "TargetDocument",
    "TargetsReply",
    "UnprocessedStatistic",
    "WildcardPattern",
    "apply_update",
    "default_rule",
    "is_matchable",
    "rule_arn",
]
