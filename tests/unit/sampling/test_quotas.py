"""GetSamplingTargets on the service side: splitting reservoirs, expiring clients, summaries."""

import random

import pytest

from fluoroscope.errors import ApiError
from fluoroscope.sampling import Quotas, RuleSet, Sampler, SamplingRequest

from .conftest import CLIENT_A, CLIENT_B, CLIENT_C

LAST_CHANGE = 1795570000.0


@pytest.fixture
def quotas(clock):
    """Quotas on the shared clock with the default TTL, interval and active window."""
    return Quotas(clock)


def report(rule_name="checkout", client=CLIENT_A, requests=10, sampled=2, borrowed=1, **extra):
    """One SamplingStatisticsDocument as the stock SDK sends it."""
    return {
        "RuleName": rule_name,
        "ClientID": client,
        "RequestCount": requests,
        "SampledCount": sampled,
        "BorrowCount": borrowed,
        "Timestamp": 1795579427,
        **extra,
    }


def granted(quotas, rule, *clients):
    """Each client reports ``rule`` in turn; return the quota each was granted."""
    shares = []
    for client in clients:
        reply = quotas.get_targets([report(rule.rule_name, client)], [rule], LAST_CHANGE)
        shares.append(reply.targets[0].reservoir_quota)
    return shares


def test_a_single_client_gets_the_whole_reservoir(quotas, make_rule):
    """With one client using a rule, its quota is the rule's ReservoirSize."""
    assert granted(quotas, make_rule(ReservoirSize=10), CLIENT_A) == [10]


def test_two_clients_split_the_reservoir_evenly(quotas, make_rule):
    """An even reservoir is halved between two clients."""
    rule = make_rule(ReservoirSize=10)
    granted(quotas, rule, CLIENT_A, CLIENT_B)

    assert granted(quotas, rule, CLIENT_A, CLIENT_B) == [5, 5]


def test_an_odd_remainder_goes_to_the_lowest_client_id(quotas, make_rule):
    """Remainders are handed out by ClientID order, so shares add up to the reservoir."""
    rule = make_rule(ReservoirSize=5)
    granted(quotas, rule, CLIENT_B, CLIENT_A)

    assert granted(quotas, rule, CLIENT_B, CLIENT_A) == [2, 3]


def test_three_clients_share_the_reservoir_and_its_remainder(quotas, make_rule):
    """10 among three clients is 4, 3 and 3, the extra one to the lowest ClientID."""
    rule = make_rule(ReservoirSize=10)
    granted(quotas, rule, CLIENT_C, CLIENT_B, CLIENT_A)

    shares = granted(quotas, rule, CLIENT_A, CLIENT_B, CLIENT_C)

    assert shares == [4, 3, 3]
    assert quotas.active_clients("checkout") == (CLIENT_A, CLIENT_B, CLIENT_C)


def test_clients_beyond_the_reservoir_get_nothing(quotas, make_rule):
    """With fewer samples than clients, some clients live on the fixed rate alone."""
    rule = make_rule(ReservoirSize=1)
    granted(quotas, rule, CLIENT_A, CLIENT_B)

    assert granted(quotas, rule, CLIENT_A, CLIENT_B) == [1, 0]


def test_a_client_that_stops_reporting_leaves_the_split(quotas, make_rule, clock):
    """After two intervals (21 s) without a report, a client's share goes to the others."""
    rule = make_rule(ReservoirSize=10)
    granted(quotas, rule, CLIENT_A, CLIENT_B)

    clock.advance(21.5)

    assert granted(quotas, rule, CLIENT_A) == [10]
    assert quotas.quota(rule, CLIENT_B) == 0


def test_a_client_that_skipped_one_report_still_shares(quotas, make_rule, clock):
    """A client last heard from 20 s ago is still counted."""
    rule = make_rule(ReservoirSize=10)
    granted(quotas, rule, CLIENT_A, CLIENT_B)

    clock.advance(20.0)

    assert granted(quotas, rule, CLIENT_A) == [5]


def test_a_target_carries_the_rate_a_future_ttl_and_the_interval(quotas, make_rule, clock):
    """FixedRate is the rule's; the quota holds for 60 s; clients report every 10 s."""
    rule = make_rule(FixedRate=0.25)

    (target,) = quotas.get_targets([report()], [rule], LAST_CHANGE).targets

    assert target.to_api() == {
        "RuleName": "checkout",
        "FixedRate": 0.25,
        "ReservoirQuota": 2,
        "ReservoirQuotaTTL": clock.now + 60.0,
        "Interval": 10,
    }


def test_last_rule_modification_is_the_callers_not_now(quotas, make_rule):
    """The reply carries when rules last changed, so clients refetch only after a change."""
    reply = quotas.get_targets([report()], [make_rule()], LAST_CHANGE)

    assert reply.to_api()["LastRuleModification"] == LAST_CHANGE


def test_an_empty_report_gets_every_required_member(quotas, make_rule):
    """The SDK reads SamplingTargetDocuments and LastRuleModification whatever the reply."""
    body = quotas.get_targets([], [make_rule()], LAST_CHANGE).to_api()

    assert body == {
        "SamplingTargetDocuments": [],
        "LastRuleModification": LAST_CHANGE,
        "UnprocessedStatistics": [],
    }


def test_a_report_for_an_unknown_rule_is_unprocessed(quotas, make_rule):
    """A deleted or never-created rule is a ResourceNotFoundException; others still count."""
    documents = [report("deleted"), report("checkout")]

    reply = quotas.get_targets(documents, [make_rule()], LAST_CHANGE)

    assert [target.rule_name for target in reply.targets] == ["checkout"]
    assert [item.to_api() for item in reply.unprocessed] == [
        {
            "RuleName": "deleted",
            "ErrorCode": "ResourceNotFoundException",
            "Message": "no sampling rule named 'deleted'",
        }
    ]


@pytest.mark.parametrize(
    ("document", "member"),
    [
        (report(client="short"), "ClientID"),
        (report(client="a" * 25), "ClientID"),
        (report(requests=-1), "RequestCount"),
        (report(sampled="2"), "SampledCount"),
        (report(borrowed=True), "BorrowCount"),
        (report(Timestamp="yesterday"), "Timestamp"),
        (report(RuleName=""), "RuleName"),
        ({k: v for k, v in report().items() if k != "RequestCount"}, "RequestCount"),
    ],
)
def test_a_malformed_report_is_unprocessed_with_the_member_named(
    quotas, make_rule, document, member
):
    """A bad document is an InvalidRequestException in UnprocessedStatistics, not a failed call."""
    reply = quotas.get_targets([document, report(client=CLIENT_B)], [make_rule()], LAST_CHANGE)

    (item,) = reply.unprocessed
    assert item.error_code == "InvalidRequestException"
    assert item.message.startswith(member)
    assert len(reply.targets) == 1


def test_a_report_that_is_not_an_object_is_unprocessed_without_a_name(quotas, make_rule):
    """UnprocessedStatistics leaves RuleName out when there is none to give."""
    reply = quotas.get_targets(["checkout"], [make_rule()], LAST_CHANGE)

    assert reply.unprocessed[0].to_api() == {
        "ErrorCode": "InvalidRequestException",
        "Message": "the document must be an object",
    }


def test_borrow_count_may_be_left_out(quotas, make_rule):
    """BorrowCount is optional in the model."""
    document = {k: v for k, v in report().items() if k != "BorrowCount"}

    reply = quotas.get_targets([document], [make_rule()], LAST_CHANGE)

    assert reply.unprocessed == ()


def test_the_distro_spelling_sample_count_is_read_as_sampled_count(quotas, make_rule):
    """The AWS OpenTelemetry distro's sampler reports SampleCount instead of SampledCount."""
    document = {k: v for k, v in report(sampled=3).items() if k != "SampledCount"}

    reply = quotas.get_targets([{**document, "SampleCount": 3}], [make_rule()], LAST_CHANGE)

    assert reply.unprocessed == ()
    assert [summary.to_api()["SampledCount"] for summary in quotas.summaries()] == [3]


def test_a_report_with_neither_spelling_names_sampled_count(quotas, make_rule):
    """Without either member, the refusal names the model's SampledCount."""
    document = {k: v for k, v in report().items() if k != "SampledCount"}

    (refused,) = quotas.get_targets([document], [make_rule()], LAST_CHANGE).unprocessed

    assert "SampledCount" in refused.message


def test_an_iso_timestamp_is_accepted(quotas, make_rule):
    """Timestamps may come as ISO 8601 text, as the AWS CLI writes them."""
    reply = quotas.get_targets(
        [report(Timestamp="2026-11-25T10:00:00Z")], [make_rule()], LAST_CHANGE
    )

    assert reply.unprocessed == ()


def test_more_than_25_reports_are_refused(quotas, make_rule):
    """The model allows at most 25 documents per call; botocore does not check it."""
    with pytest.raises(ApiError) as caught:
        quotas.get_targets([report()] * 26, [make_rule()], LAST_CHANGE)

    assert caught.value.code == "InvalidRequestException"


def test_reports_that_are_not_a_list_are_refused(quotas, make_rule):
    """SamplingStatisticsDocuments is a required list."""
    with pytest.raises(ApiError):
        quotas.get_targets(None, [make_rule()], LAST_CHANGE)


def test_one_call_from_two_clients_gets_their_combined_share(quotas, make_rule):
    """A target answers the whole call, so it carries the shares of every client in it."""
    rule = make_rule(ReservoirSize=9)
    documents = [report(client=CLIENT_A), report(client=CLIENT_B), report(client=CLIENT_A)]

    (target,) = quotas.get_targets(documents, [rule], LAST_CHANGE).targets

    assert target.reservoir_quota == 9


def test_clients_remembered_per_rule_are_bounded(clock, make_rule):
    """Past the limit, the client heard from longest ago is forgotten and counted."""
    quotas = Quotas(clock, max_clients_per_rule=2)
    rule = make_rule(ReservoirSize=6)

    granted(quotas, rule, CLIENT_A, CLIENT_B, CLIENT_C)

    assert quotas.active_clients("checkout") == (CLIENT_B, CLIENT_C)
    assert quotas.evicted_clients == 1


def test_the_clients_of_a_deleted_rule_are_dropped(quotas, make_rule):
    """When a rule is no longer among the rules, its client table goes too."""
    granted(quotas, make_rule(), CLIENT_A)

    quotas.get_targets([], [make_rule(RuleName="other")], LAST_CHANGE)

    assert quotas.active_clients("checkout") == ()


def test_reports_are_summed_in_ten_second_windows_by_arrival(quotas, make_rule, clock):
    """Summaries add every client's counts per rule and window, timed when they arrive."""
    rule = make_rule()
    start = clock.now // 10 * 10
    quotas.get_targets([report(client=CLIENT_A, requests=10, sampled=2, borrowed=1)], [rule], 0.0)
    quotas.get_targets([report(client=CLIENT_B, requests=5, sampled=0, borrowed=1)], [rule], 0.0)
    clock.advance(10.0)

    quotas.get_targets([report(requests=1, sampled=1, borrowed=0)], [rule], 0.0)

    assert [summary.to_api() for summary in quotas.summaries()] == [
        {
            "RuleName": "checkout",
            "Timestamp": start,
            "RequestCount": 15,
            "BorrowCount": 2,
            "SampledCount": 2,
        },
        {
            "RuleName": "checkout",
            "Timestamp": start + 10,
            "RequestCount": 1,
            "BorrowCount": 0,
            "SampledCount": 1,
        },
    ]


def test_forgetting_a_rule_drops_its_clients_and_summaries(quotas, make_rule):
    """A deleted rule's history can be dropped at once."""
    granted(quotas, make_rule(), CLIENT_A)

    quotas.forget("checkout")

    assert quotas.summaries() == []
    assert quotas.active_clients("checkout") == ()


def test_the_stock_sdk_reads_the_reply(quotas, make_rule, sdk_connector, clock):
    """A reply parsed by botocore gives the SDK its quota, TTL, interval and rate."""
    from aws_xray_sdk.core.sampling.sampling_rule import SamplingRule as SdkRule

    sdk_rule = SdkRule("checkout", 100, 0.1, 4, "*", "*", "*", "checkout", "*")
    sdk_rule.increment_request_count()
    reply = quotas.get_targets([report()], [make_rule(ReservoirSize=4, FixedRate=0.2)], LAST_CHANGE)
    sdk_connector._xray_client.targets_body = reply.to_api()

    targets, last_change = sdk_connector.fetch_sampling_target([sdk_rule])

    assert targets["checkout"] == {
        "rate": 0.2,
        "quota": 4,
        "TTL": int(clock.now + 60),
        "interval": 10,
    }
    assert last_change == int(LAST_CHANGE)


def test_the_collectors_sampler_takes_its_share_as_a_client(quotas, make_rule, clock):
    """A sampler reporting to the quotas gets its share and then takes it each second."""
    rule = make_rule(ReservoirSize=6, FixedRate=0.0)
    granted(quotas, rule, CLIENT_B)
    sampler = Sampler(RuleSet([rule]), clock, random.Random(1).random)
    sampler.decide(SamplingRequest("checkout"))

    reply = quotas.get_targets(sampler.statistics_documents(CLIENT_A), [rule], LAST_CHANGE)
    sampler.load_targets(reply.targets)
    clock.advance(1.0)

    decisions = [sampler.decide(SamplingRequest("checkout")) for _ in range(4)]
    assert [decision.sampled for decision in decisions] == [True, True, True, False]
