"""Picking the rule for a request: (Priority, RuleName) order, Default as catch-all, attributes."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluoroscope.sampling import RuleSet, SamplingRequest, SamplingRule, default_rule
from fluoroscope.sampling.bench import benchmark_matching

from .test_wildcards import reference_match


def names(ruleset: RuleSet) -> list[str]:
    return [rule.rule_name for rule in ruleset.rules]


def test_the_matching_rule_with_the_lowest_priority_wins(make_rule):
    """Rules are tried in ascending Priority, whatever order they are given in."""
    ruleset = RuleSet(
        [make_rule(RuleName="late", Priority=200), make_rule(RuleName="early", Priority=10)]
    )

    rule = ruleset.match(SamplingRequest("checkout"))

    assert rule.rule_name == "early"


def test_equal_priorities_are_ordered_by_name(make_rule):
    """Between rules of one priority, the name decides, as in the SDK's rule cache."""
    ruleset = RuleSet([make_rule(RuleName="beta"), make_rule(RuleName="alpha")])

    rule = ruleset.match(SamplingRequest("checkout"))

    assert rule.rule_name == "alpha"
    assert names(ruleset) == ["alpha", "beta", "Default"]


def test_default_catches_a_request_no_rule_matches(make_rule):
    """A request that matches nothing is decided by Default."""
    ruleset = RuleSet([make_rule(ServiceName="checkout"), default_rule(fixed_rate=0.5)])

    rule = ruleset.match(SamplingRequest("payments"))

    assert rule.rule_name == "Default"
    assert rule.fixed_rate == 0.5


def test_default_catches_even_when_its_own_matchers_would_not():
    """The rule named Default is the catch-all whatever its patterns say."""
    narrow_default = replace(default_rule(), service_name="nothing-like-this")

    rule = RuleSet([narrow_default]).match(SamplingRequest("checkout"))

    assert rule is narrow_default


def test_rules_ordered_after_default_are_never_reached():
    """Like the SDK, evaluation stops at Default."""
    after = replace(default_rule(), rule_name="zzz-after", priority=10001)

    ruleset = RuleSet([after, default_rule()])

    assert names(ruleset) == ["Default"]


def test_the_built_in_default_is_used_when_none_is_given(make_rule):
    """A rule set always has a catch-all."""
    ruleset = RuleSet([make_rule()])

    assert ruleset.match(SamplingRequest("payments")) == default_rule()


@pytest.mark.parametrize(
    "request_",
    [
        SamplingRequest("checkout"),
        SamplingRequest("checkout", None, None, None, None),
        SamplingRequest("checkout", "", "", "", ""),
        SamplingRequest(None, "AWS::EC2::Instance"),
    ],
)
def test_absent_or_empty_attributes_match_any_pattern(make_rule, request_):
    """As in the SDK, an attribute the request lacks does not stop a rule from matching."""
    rule = make_rule(
        ServiceName="checkout", ServiceType="AWS::EC2::*", Host="api.*", HTTPMethod="GET"
    )

    assert RuleSet([rule]).match(request_) is rule


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("service_name", "payments"),
        ("service_type", "AWS::Lambda::Function"),
        ("host", "www.example.com"),
        ("http_method", "POST"),
        ("url_path", "/health"),
    ],
)
def test_each_attribute_is_matched_against_its_own_pattern(make_rule, attribute, value):
    """A present attribute that its pattern refuses makes the rule not match."""
    rule = make_rule(
        ServiceName="checkout",
        ServiceType="AWS::EC2::*",
        Host="api.*",
        HTTPMethod="GET",
        URLPath="/orders/*",
    )
    matching = SamplingRequest("checkout", "AWS::EC2::Instance", "api.shop", "GET", "/orders/1")

    picked = RuleSet([rule]).match(matching._replace(**{attribute: value}))

    assert RuleSet([rule]).match(matching) is rule
    assert picked.rule_name == "Default"


def test_request_attributes_match_regardless_of_case(make_rule):
    """Matching ignores case in the request as well as in the rule."""
    rule = make_rule(ServiceName="Checkout", HTTPMethod="get", URLPath="/Orders/*")

    picked = RuleSet([rule]).match(SamplingRequest("CHECKOUT", None, None, "GET", "/orders/7"))

    assert picked is rule


@pytest.mark.parametrize(
    "members",
    [
        {"ResourceARN": "arn:aws:ecs:us-east-1:123456789012:service/checkout"},
        {"ServiceType": ""},
        {"Attributes": {"tenant": "acme"}},
    ],
)
def test_rules_the_sdk_ignores_are_left_out_and_listed(make_rule, members):
    """A rule the stock SDK would drop never matches here either, so decisions agree."""
    ignored = make_rule(RuleName="ignored", Priority=1, **members)

    ruleset = RuleSet([ignored, make_rule()])

    assert ruleset.match(SamplingRequest("checkout")).rule_name == "checkout"
    assert ruleset.ignored == ("ignored",)


def test_a_rule_of_another_version_is_left_out(make_rule):
    """Only Version 1 rules are used, as the SDK does."""
    other = replace(make_rule(RuleName="v2", Priority=1), version=2)

    assert RuleSet([other]).ignored == ("v2",)


def test_attributes_containing_nul_are_matched_correctly(make_rule):
    """The NUL the compiled matcher joins attributes with cannot confuse it."""
    rule = make_rule(ServiceName="a*", ServiceType="*", Host="b")

    ruleset = RuleSet([rule])

    assert ruleset.match(SamplingRequest("a\x00b", "x", "b")) is rule
    assert ruleset.match(SamplingRequest("a", "\x00", "c")).rule_name == "Default"


def test_get_finds_a_rule_by_name(make_rule):
    """Rules can be looked up by name among those the set can pick."""
    ruleset = RuleSet([make_rule(RuleName="one")])

    assert ruleset.get("one") is not None
    assert ruleset.get("Default") is ruleset.default
    assert ruleset.get("none") is None


# Patterns and attributes from small alphabets, so that matches and near misses are common.
_PATTERN = st.text(alphabet="ab*?\x00", max_size=4)
_ATTRIBUTE = st.one_of(st.none(), st.text(alphabet="abAB\x00", max_size=4))


@st.composite
def rule_lists(draw: st.DrawFn) -> list[SamplingRule]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        SamplingRule(
            rule_name=f"r{index}",
            rule_arn="",
            resource_arn="*",
            priority=draw(st.integers(min_value=1, max_value=3)),
            fixed_rate=0.0,
            reservoir_size=0,
            service_name=draw(_PATTERN),
            service_type=draw(_PATTERN.filter(bool)),
            host=draw(_PATTERN),
            http_method=draw(_PATTERN),
            url_path=draw(_PATTERN),
        )
        for index in range(count)
    ]


def reference_pick(rules: list[SamplingRule], request: SamplingRequest) -> str:
    """The SDK's rule-cache loop over the reference matcher."""
    for rule in sorted(rules, key=lambda rule: (rule.priority, rule.rule_name)):
        patterns = (rule.service_name, rule.service_type, rule.host)
        patterns += (rule.http_method, rule.url_path)
        if all(
            not value or reference_match(pattern, value)
            for value, pattern in zip(request, patterns, strict=True)
        ):
            return rule.rule_name
    return "Default"


@settings(max_examples=300)
@given(rule_lists(), st.builds(SamplingRequest, *[_ATTRIBUTE] * 5))
def test_the_compiled_rule_set_picks_what_a_plain_loop_picks(rules, request_):
    """Whatever the rules and the request, the compiled pick equals the first-match loop."""
    assert RuleSet(rules).match(request_).rule_name == reference_pick(rules, request_)


def test_the_matching_benchmark_reports_medians():
    """``benchmark_matching`` prints and returns a median per kind of request."""
    lines: list[str] = []

    results = benchmark_matching(batches=3, batch_size=20, out=lines.append)

    assert set(results) == {"mixed", "unmatched"}
    assert all(value > 0 for value in results.values())
    assert "25 rules" in lines[0]
