"""Head-sampling decisions: borrowing, quotas per second, the fixed rate, and the counts kept."""

import random

import pytest

from fluoroscope.sampling import (
    Reason,
    RuleSet,
    Sampler,
    SamplingRequest,
    StatisticWindows,
    TargetDocument,
)

from .conftest import ScriptedRandom

CHECKOUT = SamplingRequest("checkout")


@pytest.fixture
def make_sampler(clock, make_rule):
    """Build a sampler over the given rules (one ``checkout`` rule by default)."""

    def make(*rules, draws=(), windows=None):
        ruleset = RuleSet(rules or [make_rule()])
        return Sampler(ruleset, clock, ScriptedRandom(draws), windows=windows)

    return make


def reasons(sampler, count, request=CHECKOUT):
    return [sampler.decide(request).reason for _ in range(count)]


def quota(rule_name, amount, ttl, rate=0.0):
    return TargetDocument(rule_name, rate, amount, ttl)


def test_without_a_quota_one_request_a_second_is_borrowed(make_sampler, make_rule):
    """Before any target arrives, a rule with a reservoir lends one sample per second."""
    sampler = make_sampler(make_rule(ReservoirSize=5, FixedRate=0.0), draws=[0.5, 0.5])

    decided = [sampler.decide(CHECKOUT) for _ in range(3)]

    assert [d.reason for d in decided] == [Reason.BORROWED, Reason.NOT_SAMPLED, Reason.NOT_SAMPLED]
    assert decided[0].sampled
    assert decided[0].probability == 1.0


def test_borrowing_starts_again_each_wall_clock_second(make_sampler, make_rule, clock):
    """The borrowed sample is per second, counted from whole epoch seconds."""
    sampler = make_sampler(make_rule(FixedRate=0.0), draws=[0.5])
    clock.advance(0.9)
    sampler.decide(CHECKOUT)
    sampler.decide(CHECKOUT)

    clock.advance(0.1)

    assert sampler.decide(CHECKOUT).reason is Reason.BORROWED


def test_a_rule_without_a_reservoir_never_borrows(make_sampler, make_rule):
    """ReservoirSize 0 means the fixed rate alone decides."""
    sampler = make_sampler(make_rule(ReservoirSize=0, FixedRate=0.5), draws=[0.4, 0.6])

    assert reasons(sampler, 2) == [Reason.RATE, Reason.NOT_SAMPLED]


def test_the_fixed_rate_samples_draws_strictly_below_it(make_sampler, make_rule):
    """A draw equal to the rate is not sampled, so rate 0 never samples."""
    sampler = make_sampler(make_rule(ReservoirSize=0, FixedRate=0.25), draws=[0.2499, 0.25])

    decided = [sampler.decide(CHECKOUT) for _ in range(2)]

    assert [d.sampled for d in decided] == [True, False]
    assert decided[0].probability == 0.25


def test_a_quota_is_taken_per_second_then_the_rate_applies(make_sampler, make_rule, clock):
    """With a live quota of 3, three requests a second come from the reservoir."""
    sampler = make_sampler(make_rule(FixedRate=0.0), draws=[0.5] * 4)
    sampler.load_targets([quota("checkout", 3, clock.now + 60)])

    first_second = reasons(sampler, 4)
    clock.advance(1.0)

    assert first_second == [Reason.RESERVOIR] * 3 + [Reason.NOT_SAMPLED]
    assert reasons(sampler, 3) == [Reason.RESERVOIR] * 3


def test_a_quota_of_zero_leaves_only_the_rate(make_sampler, make_rule, clock):
    """A client granted nothing neither takes nor borrows while the quota lives."""
    sampler = make_sampler(make_rule(ReservoirSize=5, FixedRate=0.0), draws=[0.5])
    sampler.load_targets([quota("checkout", 0, clock.now + 60)])

    assert reasons(sampler, 1) == [Reason.NOT_SAMPLED]


def test_an_expired_quota_sends_the_rule_back_to_borrowing(make_sampler, make_rule, clock):
    """Once ReservoirQuotaTTL has passed, the rule borrows one a second again."""
    sampler = make_sampler(make_rule(FixedRate=0.0), draws=[0.5])
    sampler.load_targets([quota("checkout", 3, clock.now + 10)])

    clock.advance(11.0)

    assert reasons(sampler, 2) == [Reason.BORROWED, Reason.NOT_SAMPLED]


def test_a_quota_lives_through_the_second_its_ttl_names(make_sampler, make_rule, clock):
    """The TTL is compared in whole seconds, as the SDK does."""
    sampler = make_sampler(make_rule(FixedRate=0.0))
    sampler.load_targets([quota("checkout", 1, clock.now + 10)])

    clock.advance(10.5)

    assert reasons(sampler, 1) == [Reason.RESERVOIR]


def test_a_target_rate_replaces_the_rules_rate(make_sampler, make_rule, clock):
    """GetSamplingTargets' FixedRate is what the rate step uses from then on."""
    sampler = make_sampler(make_rule(ReservoirSize=0, FixedRate=0.0), draws=[0.5])

    sampler.load_targets([TargetDocument("checkout", 0.75, None, None)])

    decision = sampler.decide(CHECKOUT)
    assert (decision.reason, decision.probability) == (Reason.RATE, 0.75)


def test_a_target_without_a_quota_keeps_the_last_one(make_sampler, make_rule, clock):
    """Missing ReservoirQuota and ReservoirQuotaTTL keep the previous values, as in the SDK."""
    sampler = make_sampler(make_rule(FixedRate=0.0))
    sampler.load_targets([quota("checkout", 2, clock.now + 60)])

    sampler.load_targets([TargetDocument("checkout", 0.0, None, None)])

    assert reasons(sampler, 2) == [Reason.RESERVOIR] * 2


def test_targets_for_unknown_rules_are_ignored(make_sampler, clock):
    """A target naming a rule the sampler does not have changes nothing."""
    sampler = make_sampler()

    sampler.load_targets([quota("elsewhere", 9, clock.now + 60)])

    assert reasons(sampler, 1) == [Reason.BORROWED]


def test_a_decision_names_the_rule_that_made_it(make_sampler, make_rule):
    """The matched rule's name is returned, Default for what nothing else matched."""
    sampler = make_sampler(make_rule(), draws=[0.99])

    assert sampler.decide(CHECKOUT).rule_name == "checkout"
    assert sampler.decide(SamplingRequest("payments")).rule_name == "Default"


def test_statistics_documents_report_counts_since_the_last_report(make_sampler, make_rule, clock):
    """Like the SDK: a borrow counts in BorrowCount only, a rate hit in SampledCount."""
    sampler = make_sampler(make_rule(FixedRate=0.5), draws=[0.1, 0.9])
    reasons(sampler, 3)

    (document,) = sampler.statistics_documents("f" * 24)

    assert document == {
        "RuleName": "checkout",
        "ClientID": "f" * 24,
        "RequestCount": 3,
        "SampledCount": 1,
        "BorrowCount": 1,
        "Timestamp": int(clock.now),
    }
    assert sampler.statistics_documents("f" * 24) == []


def test_only_rules_that_matched_are_reported(make_sampler, make_rule):
    """A rule with no requests since the last report is left out, as the SDK does."""
    sampler = make_sampler(make_rule(), make_rule(RuleName="idle", ServiceName="idle"))
    sampler.decide(CHECKOUT)

    documents = sampler.statistics_documents("f" * 24)

    assert [document["RuleName"] for document in documents] == ["checkout"]


def test_decisions_are_counted_in_ten_second_windows(make_sampler, make_rule, clock):
    """Each decision adds to its rule's window; windows start on multiples of 10 seconds."""
    sampler = make_sampler(make_rule(ReservoirSize=0, FixedRate=0.5), draws=[0.1, 0.9, 0.1])
    start = clock.now // 10 * 10
    sampler.decide(CHECKOUT)
    sampler.decide(CHECKOUT)
    clock.advance(10.0)

    sampler.decide(CHECKOUT)

    summaries = [s.to_api() for s in sampler.summaries()]
    assert [(s["Timestamp"], s["RequestCount"], s["SampledCount"]) for s in summaries] == [
        (start, 2, 1),
        (start + 10, 1, 1),
    ]


def test_the_windows_kept_are_bounded(make_sampler, make_rule, clock):
    """Only the newest windows are kept, however long the sampler runs."""
    sampler = make_sampler(make_rule(), windows=StatisticWindows(retain=2))

    for _ in range(5):
        sampler.decide(CHECKOUT)
        clock.advance(10.0)

    assert len(sampler.summaries()) == 2


def test_new_rules_keep_the_state_of_rules_with_the_same_name(make_sampler, make_rule, clock):
    """A rule that survives a refresh keeps its quota and unreported counts, with its new rate."""
    sampler = make_sampler(
        make_rule(FixedRate=0.0), make_rule(RuleName="gone", ServiceName="x"), draws=[0.5]
    )
    sampler.load_targets([quota("checkout", 1, clock.now + 60)])
    sampler.decide(CHECKOUT)

    sampler.update_rules(RuleSet([make_rule(FixedRate=1.0)]))

    decision = sampler.decide(CHECKOUT)
    assert (decision.reason, decision.probability) == (Reason.RATE, 1.0)
    assert sampler.statistics_documents("f" * 24)[0]["RequestCount"] == 2
    assert sampler.ruleset.get("gone") is None


def test_decisions_match_the_stock_sdk_for_the_same_clock_and_draws(make_rule, clock):
    """Over borrowing, quotas, their expiry and the rate, the SDK's own code decides alike."""
    from aws_xray_sdk.core.sampling.sampler import DefaultSampler
    from aws_xray_sdk.core.sampling.sampling_rule import SamplingRule as SdkRule

    sdk = DefaultSampler()
    sdk._random = random.Random(11)
    sdk_rule = SdkRule("checkout", 100, 0.3, 2, "*", "*", "*", "checkout", "*")
    ours = Sampler(RuleSet([make_rule(FixedRate=0.3)]), clock, random.Random(11).random)
    steps = [0.0, 0.2, 0.3, 0.9, 1.0, 1.1, 2.5, 2.6, 2.7, 2.8, 3.0, 3.1, 3.2] * 3

    seen, expected = [], []
    for index, offset in enumerate(steps):
        if index == 13:  # a quota of 2 for 20 s arrives
            ttl = clock.now + 20
            sdk_rule.reservoir.load_quota(2, int(ttl), 10)
            ours.load_targets([TargetDocument("checkout", 0.3, 2, ttl)])
        if index == 26:  # the quota has expired
            clock.advance(30.0)
        clock.advance(offset - (steps[index - 1] if index % 13 else 0.0))
        decision = ours.decide(CHECKOUT)
        seen.append(decision.rule_name if decision.sampled else False)
        expected.append(sdk._process_matched_rule(sdk_rule, int(clock.now)))

    assert seen == expected
    (document,) = ours.statistics_documents("f" * 24)
    snapshot = sdk_rule.snapshot_statistics()
    assert (document["RequestCount"], document["SampledCount"], document["BorrowCount"]) == (
        snapshot["request_count"],
        snapshot["sampled_count"],
        snapshot["borrow_count"],
    )
