"""Sampling rules and their table: a change that cannot be saved is undone, never served
unsaved; the Default rule is saved as soon as it is made."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fluoroscope.api.sampling import SamplingOperations, load_rules
from fluoroscope.errors import StoreError
from fluoroscope.sampling import Quotas, RuleBook
from fluoroscope.store.sampling_rules import RuleTable
from fluoroscope.store.store import Store

RULE = {
    "RuleName": "checkout", "Priority": 10, "FixedRate": 0.5, "ReservoirSize": 1,
    "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
    "ResourceARN": "*", "Version": 1,
}  # fmt: skip


class _LockedTable:
    """A rule table whose database stays locked: every save fails."""

    def save(self, records: list[dict[str, Any]], last_modification: float) -> None:
        raise StoreError("database is locked")


def test_a_rule_that_cannot_be_saved_is_not_served() -> None:
    clock = iter(range(1_000, 2_000)).__next__
    book = RuleBook(lambda: float(clock()))
    seen: list[list[str]] = []
    with ThreadPoolExecutor(1) as executor:
        operations = SamplingOperations(
            book,
            Quotas(lambda: 1_000.0),
            _LockedTable(),  # type: ignore[arg-type]
            executor,
            lambda changed: seen.append([r.rule_name for r in changed.rules()]),
        )
        before = book.last_modification
        with pytest.raises(StoreError, match="could not be saved"):
            asyncio.run(operations.create_sampling_rule({"SamplingRule": RULE}))

    assert [rule.rule_name for rule in book.rules()] == ["Default"]
    assert seen[-1] == ["Default"]  # the collector's own sampler was told too
    assert book.last_modification > before  # clients that saw the rule fetch again


def test_the_default_rule_keeps_its_times_across_restarts(tmp_path: Path) -> None:
    """It is saved when it is made: a restart that made it again would move
    LastRuleModification, and every SDK would fetch the rules again."""
    store = Store(tmp_path)
    store.open()
    tables = [RuleTable(store.path), RuleTable(store.path)]
    first = load_rules(tables[0], lambda: 1_000.0)
    again = load_rules(tables[1], lambda: 2_000.0)
    for table in tables:
        table.close()
    store.close()

    assert again.records() == first.records()
    assert again.last_modification == first.last_modification == 1_000.0
