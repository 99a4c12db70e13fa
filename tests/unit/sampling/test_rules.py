"""Sampling rules on the wire: parsing, limits, the Default rule, updates, and the stock SDK."""

import pytest

from fluoroscope.errors import ApiError
from fluoroscope.sampling import RULE_COUNT_LIMIT, RuleError, SamplingRule, default_rule, rule_arn
from fluoroscope.sampling.rules import (
    apply_update,
    check_deletable,
    check_rule_count,
    name_from_arn,
)

from .conftest import rule_api

SDK_READS = (
    "RuleName",
    "Priority",
    "FixedRate",
    "ReservoirSize",
    "Host",
    "ServiceName",
    "HTTPMethod",
    "URLPath",
    "ServiceType",
    "Version",
    "ResourceARN",
    "Attributes",
)


# --- the wire shapes ---------------------------------------------------------------------------


def test_a_rule_round_trips_through_the_api_shape():
    """Parsing what ``to_api`` serves gives the same rule back."""
    rule = SamplingRule.from_api(
        rule_api(
            Attributes={"tenant": "acme"},
            SamplingRateBoost={"MaxRate": 0.5, "CooldownWindowMinutes": 3},
        ),
        created_at=1.0,
        modified_at=2.0,
    )

    again = SamplingRule.from_record(rule.to_record())

    assert again == rule


def test_every_member_the_sdk_reads_is_always_served(make_rule):
    """Keys the SDK reads by direct access are present even when empty or defaulted."""
    api = make_rule().to_api()

    assert set(SDK_READS) <= set(api)
    assert api["Attributes"] == {}
    assert "SamplingRateBoost" not in api


def test_a_record_carries_creation_and_modification_times_as_floats(make_rule):
    """``SamplingRuleRecord`` wraps the rule with epoch-second floats."""
    record = SamplingRule.from_api(rule_api(), created_at=5, modified_at=6).to_record()

    assert record["CreatedAt"] == 5.0
    assert isinstance(record["ModifiedAt"], float)
    assert record["SamplingRule"]["RuleName"] == "checkout"


def test_the_stock_sdk_loads_every_rule_served(sdk_connector, make_rule):
    """GetSamplingRules records, parsed by botocore, are all accepted by the SDK's connector."""
    rules = [default_rule(), make_rule(), make_rule(RuleName="orders", URLPath="/orders/*")]
    sdk_connector._xray_client.rules_body = {
        "SamplingRuleRecords": [rule.to_record() for rule in rules]
    }

    loaded = sdk_connector.fetch_sampling_rules()

    assert sorted(rule.name for rule in loaded) == ["Default", "checkout", "orders"]


def test_a_float_that_is_a_whole_number_is_an_integer():
    """JSON has one number type, so ``5.0`` is accepted where an integer is required."""
    rule = SamplingRule.from_api(rule_api(Priority=5.0, ReservoirSize=3.0))

    assert (rule.priority, rule.reservoir_size) == (5, 3)
    assert isinstance(rule.priority, int)


def test_unknown_members_are_ignored():
    """A member from a newer model does not make a rule invalid."""
    rule = SamplingRule.from_api(rule_api(SomethingNew={"x": 1}))

    assert rule.rule_name == "checkout"


# --- names and ARNs -----------------------------------------------------------------------------


def test_an_arn_names_the_region_account_and_rule():
    """Rule ARNs have the form arn:aws:xray:<region>:<account>:sampling-rule/<name>."""
    assert (
        rule_arn("checkout", "eu-west-1", "123456789012")
        == "arn:aws:xray:eu-west-1:123456789012:sampling-rule/checkout"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout",
        "arn:aws:xray:us-east-1::sampling-rule/checkout",
    ],
)
def test_the_rule_name_is_read_from_an_arn_with_or_without_an_account(arn):
    """Docs examples show the account part both filled and empty."""
    assert name_from_arn(arn) == "checkout"


def test_a_rule_may_be_named_by_its_arn_alone():
    """RuleARN is enough to name a rule."""
    api = rule_api(omit=["RuleName"], RuleARN=rule_arn("orders", "us-east-1", "0" * 12))

    assert SamplingRule.from_api(api).rule_name == "orders"


def test_a_name_and_an_arn_that_disagree_are_refused():
    """RuleName and RuleARN must name the same rule when both are given."""
    api = rule_api(RuleARN=rule_arn("orders", "us-east-1", "0" * 12))

    with pytest.raises(RuleError) as caught:
        SamplingRule.from_api(api)

    assert caught.value.field == "RuleARN"


# --- validation ---------------------------------------------------------------------------------

INVALID = [
    pytest.param({"omit": ["RuleName"]}, "RuleName", id="no name"),
    pytest.param({"RuleName": ""}, "RuleName", id="empty name"),
    pytest.param({"RuleName": "n" * 33}, "RuleName", id="name over 32"),
    pytest.param({"RuleName": 7}, "RuleName", id="name not a string"),
    pytest.param({"RuleARN": "arn:aws:s3:::bucket"}, "RuleARN", id="not a sampling-rule ARN"),
    pytest.param({"omit": ["Priority"]}, "Priority", id="no priority"),
    pytest.param({"Priority": 0}, "Priority", id="priority 0"),
    pytest.param({"Priority": 10000}, "Priority", id="priority 10000"),
    pytest.param({"Priority": 1.5}, "Priority", id="priority fractional"),
    pytest.param({"Priority": "1"}, "Priority", id="priority a string"),
    pytest.param({"Priority": True}, "Priority", id="priority a boolean"),
    pytest.param({"omit": ["FixedRate"]}, "FixedRate", id="no rate"),
    pytest.param({"FixedRate": -0.01}, "FixedRate", id="rate below 0"),
    pytest.param({"FixedRate": 1.01}, "FixedRate", id="rate above 1"),
    pytest.param({"FixedRate": float("nan")}, "FixedRate", id="rate NaN"),
    pytest.param({"FixedRate": "0.5"}, "FixedRate", id="rate a string"),
    pytest.param({"omit": ["ReservoirSize"]}, "ReservoirSize", id="no reservoir"),
    pytest.param({"ReservoirSize": -1}, "ReservoirSize", id="reservoir negative"),
    pytest.param({"ReservoirSize": 2**31}, "ReservoirSize", id="reservoir past int32"),
    pytest.param({"omit": ["ResourceARN"]}, "ResourceARN", id="no resource ARN"),
    pytest.param({"ResourceARN": "a" * 501}, "ResourceARN", id="resource ARN over 500"),
    pytest.param({"omit": ["ServiceName"]}, "ServiceName", id="no service name"),
    pytest.param({"ServiceName": "s" * 65}, "ServiceName", id="service name over 64"),
    pytest.param({"omit": ["ServiceType"]}, "ServiceType", id="no service type"),
    pytest.param({"ServiceType": "t" * 65}, "ServiceType", id="service type over 64"),
    pytest.param({"omit": ["Host"]}, "Host", id="no host"),
    pytest.param({"Host": "h" * 65}, "Host", id="host over 64"),
    pytest.param({"omit": ["HTTPMethod"]}, "HTTPMethod", id="no method"),
    pytest.param({"HTTPMethod": "M" * 11}, "HTTPMethod", id="method over 10"),
    pytest.param({"omit": ["URLPath"]}, "URLPath", id="no path"),
    pytest.param({"URLPath": "/" * 129}, "URLPath", id="path over 128"),
    pytest.param({"URLPath": ["/"]}, "URLPath", id="path not a string"),
    pytest.param({"omit": ["Version"]}, "Version", id="no version"),
    pytest.param({"Version": 2}, "Version", id="version 2"),
    pytest.param({"Version": 0}, "Version", id="version 0"),
    pytest.param({"Attributes": ["a"]}, "Attributes", id="attributes not a map"),
    pytest.param({"Attributes": {f"k{i}": "v" for i in range(6)}}, "Attributes", id="6 attributes"),
    pytest.param({"Attributes": {"": "v"}}, "Attributes", id="empty attribute key"),
    pytest.param({"Attributes": {"k": ""}}, "Attributes", id="empty attribute value"),
    pytest.param({"Attributes": {"k" * 33: "v"}}, "Attributes", id="attribute key over 32"),
    pytest.param({"Attributes": {"k": "v" * 33}}, "Attributes", id="attribute value over 32"),
    pytest.param({"Attributes": {"k": 1}}, "Attributes", id="attribute value not a string"),
    pytest.param(
        {"SamplingRateBoost": {"MaxRate": 1.5, "CooldownWindowMinutes": 1}},
        "SamplingRateBoost.MaxRate",
        id="boost rate above 1",
    ),
    pytest.param(
        {"SamplingRateBoost": {"MaxRate": 0.5}},
        "SamplingRateBoost.CooldownWindowMinutes",
        id="boost without cooldown",
    ),
    pytest.param({"SamplingRateBoost": 3}, "SamplingRateBoost", id="boost not an object"),
]


@pytest.mark.parametrize(("members", "field"), INVALID)
def test_an_invalid_member_is_refused_with_its_name(members, field):
    """Each limit of the model, maxima included, is enforced and names the member."""
    with pytest.raises(RuleError) as caught:
        SamplingRule.from_api(rule_api(**members))

    assert caught.value.field == field
    assert caught.value.code == "InvalidRequestException"


def test_a_rule_that_is_not_an_object_is_refused():
    """The SamplingRule member must be a JSON object."""
    with pytest.raises(RuleError) as caught:
        SamplingRule.from_api(["checkout"])

    assert caught.value.field == "SamplingRule"


def test_values_at_the_limits_are_accepted():
    """Every limit is inclusive."""
    rule = SamplingRule.from_api(
        rule_api(
            RuleName="n" * 32,
            Priority=9999,
            FixedRate=1,
            ReservoirSize=2**31 - 1,
            ResourceARN="a" * 500,
            ServiceName="s" * 64,
            ServiceType="t" * 64,
            Host="h" * 64,
            HTTPMethod="M" * 10,
            URLPath="/" * 128,
            Attributes={f"k{i}".ljust(32, "k"): "v" * 32 for i in range(5)},
        )
    )

    assert rule.priority == 9999
    assert len(rule.attributes) == 5


def test_priority_one_and_rate_zero_are_accepted():
    """The lower limits are inclusive too."""
    rule = SamplingRule.from_api(rule_api(Priority=1, FixedRate=0, ReservoirSize=0))

    assert (rule.priority, rule.fixed_rate, rule.reservoir_size) == (1, 0.0, 0)


def test_a_rule_error_is_an_api_error_with_the_field_in_its_message():
    """The API maps RuleError like any ApiError: a 400 whose message starts with the field."""
    error = RuleError("Priority", "must be between 1 and 9999")

    assert isinstance(error, ApiError)
    assert error.status == 400
    assert error.message == "Priority: must be between 1 and 9999"


def test_the_rule_count_limit_is_25_besides_default():
    """A 26th rule besides Default is a RuleLimitExceededException."""
    check_rule_count(RULE_COUNT_LIMIT - 1)

    with pytest.raises(RuleError) as caught:
        check_rule_count(RULE_COUNT_LIMIT)

    assert RULE_COUNT_LIMIT == 25
    assert caught.value.code == "RuleLimitExceededException"


# --- the Default rule ---------------------------------------------------------------------------


def test_default_has_priority_10000_and_matches_everything():
    """The built-in Default is the catch-all X-Ray serves: every matcher ``*``, Version 1."""
    api = default_rule().to_api()

    assert api["Priority"] == 10000
    assert {
        api[key] for key in ("ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath")
    } == {"*"}
    assert (api["ResourceARN"], api["Version"], api["Attributes"]) == ("*", 1, {})
    assert api["RuleARN"] == "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default"


def test_default_samples_one_a_second_and_five_percent_by_default():
    """X-Ray's Default: reservoir 1, rate 0.05."""
    rule = default_rule()

    assert (rule.reservoir_size, rule.fixed_rate) == (1, 0.05)


def test_a_default_rule_with_other_matchers_is_refused():
    """A parsed Default must keep its fixed shape."""
    api = default_rule().to_api() | {"ServiceName": "checkout"}

    with pytest.raises(RuleError) as caught:
        SamplingRule.from_api(api)

    assert caught.value.field == "ServiceName"


def test_default_cannot_be_deleted():
    """Every client relies on Default; deleting it is an InvalidRequestException."""
    with pytest.raises(RuleError) as caught:
        check_deletable(default_rule())

    assert caught.value.code == "InvalidRequestException"


def test_other_rules_can_be_deleted(make_rule):
    """Only Default is protected."""
    check_deletable(make_rule())


# --- updates ------------------------------------------------------------------------------------


def test_an_update_changes_only_the_members_it_carries(make_rule):
    """Absent members keep their values."""
    rule = make_rule()

    updated = apply_update(rule, {"RuleName": "checkout", "FixedRate": 0.5}, now=50.0)

    assert updated.fixed_rate == 0.5
    assert updated.priority == rule.priority
    assert updated.service_name == rule.service_name


def test_null_members_of_an_update_are_absent(make_rule):
    """``null`` means "leave as is", as botocore never sends it."""
    rule = make_rule()

    updated = apply_update(rule, {"RuleName": "checkout", "Host": None}, now=50.0)

    assert updated.host == rule.host


def test_an_update_sets_the_modification_time(make_rule):
    """ModifiedAt becomes the time of the update; CreatedAt stays."""
    rule = make_rule()

    updated = apply_update(rule, {"RuleName": "checkout", "Priority": 7}, now=50.0)

    assert (updated.created_at, updated.modified_at) == (rule.created_at, 50.0)


def test_an_update_can_change_every_matcher_and_attributes(make_rule):
    """All members of SamplingRuleUpdate apply to an ordinary rule."""
    update = {
        "RuleARN": rule_arn("checkout", "us-east-1", "0" * 12),
        "ResourceARN": "arn:aws:ecs:::x",
        "Priority": 9,
        "ReservoirSize": 0,
        "ServiceName": "a",
        "ServiceType": "b",
        "Host": "c",
        "HTTPMethod": "d",
        "URLPath": "e",
        "Attributes": {"k": "v"},
        "SamplingRateBoost": {"MaxRate": 0.2, "CooldownWindowMinutes": 5},
    }

    updated = apply_update(make_rule(), update, now=1.0)

    assert updated.to_api()["ServiceName"] == "a"
    assert (updated.priority, updated.reservoir_size, updated.url_path) == (9, 0, "e")
    assert updated.attributes == (("k", "v"),)
    assert updated.sampling_rate_boost is not None


def test_an_update_validates_what_it_changes(make_rule):
    """An update member out of its limits is refused with its name."""
    with pytest.raises(RuleError) as caught:
        apply_update(make_rule(), {"RuleName": "checkout", "Priority": 0}, now=1.0)

    assert caught.value.field == "Priority"


def test_an_update_must_name_a_rule(make_rule):
    """SamplingRuleUpdate needs RuleName or RuleARN."""
    with pytest.raises(RuleError) as caught:
        apply_update(make_rule(), {"FixedRate": 0.2}, now=1.0)

    assert caught.value.field == "RuleName"


def test_an_update_naming_another_rule_is_refused(make_rule):
    """An update is applied only to the rule it names."""
    with pytest.raises(RuleError):
        apply_update(make_rule(), {"RuleName": "orders", "FixedRate": 0.2}, now=1.0)


def test_default_rate_and_reservoir_can_change():
    """FixedRate and ReservoirSize are the members of Default that may change."""
    update = {"RuleName": "Default", "FixedRate": 0.2, "ReservoirSize": 10}

    updated = apply_update(default_rule(), update, now=1.0)

    assert (updated.fixed_rate, updated.reservoir_size, updated.priority) == (0.2, 10, 10000)


@pytest.mark.parametrize(
    "member",
    [
        {"Priority": 5},
        {"ServiceName": "checkout"},
        {"ServiceType": "AWS::EC2::Instance"},
        {"Host": "api.example.com"},
        {"HTTPMethod": "GET"},
        {"URLPath": "/orders"},
        {"ResourceARN": "arn:aws:ecs:::x"},
        {"Attributes": {"k": "v"}},
    ],
)
def test_other_members_of_default_cannot_change(member):
    """Anything but FixedRate and ReservoirSize on Default is refused, naming the member."""
    with pytest.raises(RuleError) as caught:
        apply_update(default_rule(), {"RuleName": "Default", **member}, now=1.0)

    assert caught.value.field == next(iter(member))


def test_an_update_of_default_may_repeat_its_fixed_members():
    """Sending the whole Default back unchanged, with a new rate, is accepted."""
    update = default_rule().to_api() | {"FixedRate": 0.3}

    updated = apply_update(default_rule(), update, now=1.0)

    assert updated.fixed_rate == 0.3
