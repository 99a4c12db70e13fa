"""The rule book: X-Ray's create, update and delete semantics, and when rules last changed."""

import pytest

from fluoroscope.sampling import RULE_COUNT_LIMIT, RuleBook, RuleError, SamplingRequest

from .conftest import rule_api


@pytest.fixture
def book(clock):
    """An empty rule book (Default only) on the shared clock."""
    return RuleBook(clock, region="eu-west-1", account="123456789012")


def test_a_new_book_holds_default_created_now(book, clock):
    """Default always exists; a fresh book creates it."""
    (default,) = book.rules()

    assert default.rule_name == "Default"
    assert default.created_at == clock.now
    assert book.last_modification == clock.now


def test_a_created_rule_gets_this_collectors_arn_and_times(book, clock):
    """The ARN carries the book's region and account, whatever ARN the caller sent."""
    clock.advance(5.0)

    rule = book.create(
        rule_api(RuleARN="arn:aws:xray:us-east-1:999999999999:sampling-rule/checkout")
    )

    assert rule.rule_arn == "arn:aws:xray:eu-west-1:123456789012:sampling-rule/checkout"
    assert rule.created_at == rule.modified_at == clock.now
    assert book.get("checkout") == rule


def test_a_rule_name_can_be_used_once(book):
    """Creating a second rule with a taken name is an InvalidRequestException."""
    book.create(rule_api())

    with pytest.raises(RuleError) as caught:
        book.create(rule_api(Priority=5))

    assert (caught.value.field, caught.value.code) == ("RuleName", "InvalidRequestException")


def test_no_rule_can_be_created_as_default(book):
    """The name Default is always taken."""
    with pytest.raises(RuleError):
        book.create(rule_api(RuleName="Default"))


def test_the_rule_past_the_limit_is_refused(book):
    """25 rules besides Default can exist; the 26th is a RuleLimitExceededException."""
    for index in range(RULE_COUNT_LIMIT):
        book.create(rule_api(RuleName=f"rule-{index}"))

    with pytest.raises(RuleError) as caught:
        book.create(rule_api(RuleName="one-too-many"))

    assert caught.value.code == "RuleLimitExceededException"
    assert len(book.rules()) == RULE_COUNT_LIMIT + 1


def test_a_refused_rule_changes_nothing(book, clock):
    """An invalid create leaves the rules and LastRuleModification as they were."""
    before = book.last_modification
    clock.advance(5.0)

    with pytest.raises(RuleError):
        book.create(rule_api(Priority=0))

    assert book.last_modification == before
    assert [rule.rule_name for rule in book.rules()] == ["Default"]


def test_an_update_returns_the_changed_rule_and_marks_the_change(book, clock):
    """UpdateSamplingRule answers with the whole rule and moves LastRuleModification."""
    book.create(rule_api())
    clock.advance(30.0)

    updated = book.update({"RuleName": "checkout", "FixedRate": 0.9})

    assert updated.fixed_rate == 0.9
    assert book.get("checkout") == updated
    assert book.last_modification == clock.now


def test_a_rule_can_be_updated_by_its_arn(book):
    """RuleARN names the rule as well as RuleName does."""
    arn = book.create(rule_api()).rule_arn

    updated = book.update({"RuleARN": arn, "ReservoirSize": 9})

    assert updated.reservoir_size == 9


def test_updating_an_unknown_rule_is_an_invalid_request(book):
    """The model declares no not-found error for rules, so an unknown name is invalid input."""
    with pytest.raises(RuleError) as caught:
        book.update({"RuleName": "nope", "FixedRate": 0.1})

    assert caught.value.code == "InvalidRequestException"


def test_an_update_that_is_not_an_object_is_refused(book):
    """SamplingRuleUpdate must be a JSON object."""
    with pytest.raises(RuleError) as caught:
        book.update("checkout")

    assert caught.value.field == "SamplingRuleUpdate"


def test_default_can_be_updated_in_rate_and_reservoir(book):
    """The Default rule's rate and reservoir are the knobs users turn."""
    updated = book.update({"RuleName": "Default", "FixedRate": 0.5, "ReservoirSize": 0})

    assert (updated.fixed_rate, updated.reservoir_size) == (0.5, 0)


def test_a_delete_returns_the_rule_and_marks_the_change(book, clock):
    """DeleteSamplingRule answers with the deleted rule, which is gone afterwards."""
    created = book.create(rule_api())
    clock.advance(30.0)

    deleted = book.delete({"RuleName": "checkout"})

    assert deleted == created
    assert book.get("checkout") is None
    assert book.last_modification == clock.now


def test_default_cannot_be_deleted(book):
    """Deleting Default is an InvalidRequestException and Default stays."""
    with pytest.raises(RuleError) as caught:
        book.delete({"RuleName": "Default"})

    assert caught.value.code == "InvalidRequestException"
    assert book.get("Default") is not None


def test_deleting_an_unknown_rule_is_an_invalid_request(book):
    """A rule that does not exist cannot be deleted."""
    with pytest.raises(RuleError):
        book.delete({"RuleName": "nope"})


def test_reading_never_moves_the_last_modification(book, clock):
    """LastRuleModification is when rules changed, never "now"."""
    before = book.last_modification
    clock.advance(3600.0)

    book.records()
    book.ruleset()

    assert book.last_modification == before


def test_the_last_modification_never_goes_backwards(book, clock):
    """A clock stepped back does not make clients miss a change."""
    book.create(rule_api())
    latest = book.last_modification
    clock.advance(-100.0)

    book.update({"RuleName": "checkout", "FixedRate": 0.2})

    assert book.last_modification == latest


def test_a_saved_book_is_restored_with_its_rules_and_last_change(book, clock):
    """Rules and LastRuleModification handed back at start-up are served as they were."""
    book.create(rule_api())
    book.delete({"RuleName": "checkout"})
    book.create(rule_api(RuleName="orders"))
    saved, changed = book.rules(), book.last_modification
    clock.advance(600.0)

    restored = RuleBook(clock, rules=saved, last_modification=changed)

    assert restored.rules() == saved
    assert restored.last_modification == changed


def test_saved_rules_with_one_name_twice_are_refused(book, clock):
    """A corrupt save fails at start-up rather than serving one of two rules."""
    rules = book.rules()

    with pytest.raises(ValueError, match="Default"):
        RuleBook(clock, rules=[*rules, *rules])


def test_records_are_in_evaluation_order_with_default_last(book):
    """GetSamplingRules lists rules by (Priority, RuleName)."""
    book.create(rule_api(RuleName="b", Priority=5))
    book.create(rule_api(RuleName="a", Priority=5))
    book.create(rule_api(RuleName="c", Priority=1))

    names = [record["SamplingRule"]["RuleName"] for record in book.records()]

    assert names == ["c", "a", "b", "Default"]


def test_the_ruleset_follows_changes(book):
    """Matching uses the rules as they are after each change."""
    request = SamplingRequest("checkout")
    assert book.ruleset().match(request).rule_name == "Default"

    book.create(rule_api())

    assert book.ruleset().match(request).rule_name == "checkout"
    assert book.ruleset() is book.ruleset()
