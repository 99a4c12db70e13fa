"""Sampling operations: the two calls stock SDK samplers make (GetSamplingRules,
GetSamplingTargets), rule CRUD, and GetSamplingStatisticSummaries.

Rules live in a :class:`RuleBook` held by the event loop (so calls are serialised) and are
saved to the store after every change, before the change is acknowledged.
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from fluoroscope.api import protocol, tokens
from fluoroscope.errors import StoreError
from fluoroscope.sampling import Quotas, RuleBook, SamplingRule
from fluoroscope.store.sampling_rules import RuleTable

PAGE_SIZE = 100


def load_rules(table: RuleTable, now: Callable[[], float] = time.time) -> RuleBook:
    """The rule book as saved (with a fresh ``Default`` the first time)."""
    records, last_modification = table.load()
    rules = [SamplingRule.from_record(record) for record in records]
    book = RuleBook(now, rules=rules, last_modification=last_modification)
    if len(rules) < len(book.rules()):
        # The Default rule was just made: saved at once, so that it keeps its times across
        # restarts (SDKs fetch the rules again whenever LastRuleModification moves).
        table.save(book.records(), book.last_modification)
    return book


class SamplingOperations:
    """Handlers for the sampling operations."""

    def __init__(
        self,
        book: RuleBook,
        quotas: Quotas,
        table: RuleTable,
        executor: Executor,
        on_change: Callable[[RuleBook], None] | None = None,
    ) -> None:
        self._book = book
        # Told after every change (the collector's own sampler follows the rules).
        self._on_change = on_change
        self._quotas = quotas
        self._table = table
        self._executor = executor
        self._saving = asyncio.Lock()

    @property
    def book(self) -> RuleBook:
        """The current rules."""
        return self._book

    async def _save(self, before: dict[str, SamplingRule]) -> None:
        """Save the book as changed; if that fails, undo the change (``before``) and say so:
        a rule served but not saved would be lost at the next start."""
        if self._on_change is not None:
            self._on_change(self._book)
        records = self._book.records()
        modified = self._book.last_modification
        async with self._saving:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._table.save, records, modified
                )
            except Exception as exc:
                self._book.restore(before)
                if self._on_change is not None:
                    self._on_change(self._book)
                raise StoreError(f"the sampling rules could not be saved: {exc}") from exc

    async def get_sampling_rules(self, body: dict[str, Any]) -> object:
        """Every rule (stock SDKs never page, so one page holds them all)."""
        protocol.string(body, "NextToken")
        return {"SamplingRuleRecords": self._book.records()}

    async def get_sampling_targets(self, body: dict[str, Any]) -> object:
        """Each reporting client's share of its rules' reservoirs."""
        reply = self._quotas.get_targets(
            body.get("SamplingStatisticsDocuments"),
            self._book.rules(),
            self._book.last_modification,
        )
        return reply.to_api()

    async def create_sampling_rule(self, body: dict[str, Any]) -> object:
        """CreateSamplingRule."""
        before = self._book.snapshot()
        rule = self._book.create(body.get("SamplingRule"))
        await self._save(before)
        return {"SamplingRuleRecord": rule.to_record()}

    async def update_sampling_rule(self, body: dict[str, Any]) -> object:
        """UpdateSamplingRule."""
        before = self._book.snapshot()
        rule = self._book.update(body.get("SamplingRuleUpdate"))
        await self._save(before)
        return {"SamplingRuleRecord": rule.to_record()}

    async def delete_sampling_rule(self, body: dict[str, Any]) -> object:
        """DeleteSamplingRule."""
        before = self._book.snapshot()
        rule = self._book.delete(body)
        self._quotas.forget(rule.rule_name)
        await self._save(before)
        return {"SamplingRuleRecord": rule.to_record()}

    async def get_sampling_statistic_summaries(self, body: dict[str, Any]) -> object:
        """10-second windows of each rule's request, sampled and borrowed counts."""
        token = protocol.string(body, "NextToken")
        summaries = [summary.to_api() for summary in self._quotas.summaries()]
        start = tokens.offset(tokens.decode(token, "statistics")) if token else 0
        reply: dict[str, object] = {
            "SamplingStatisticSummaries": summaries[start : start + PAGE_SIZE]
        }
        if start + PAGE_SIZE < len(summaries):
            reply["NextToken"] = tokens.encode("statistics", {"after": start + PAGE_SIZE})
        return reply
