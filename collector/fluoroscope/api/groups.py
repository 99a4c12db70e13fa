"""Groups: CreateGroup, GetGroup, GetGroups, UpdateGroup, DeleteGroup, and the catalog the
rest of the collector reads group filters from.

A group is a named filter expression. Traces are classified into groups when they are written,
so a changed filter applies to traces that arrive afterwards (X-Ray's ``ContainsOldGroupVersions``
says when a window spans a change).
"""

import asyncio
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from fluoroscope.api import protocol, tokens
from fluoroscope.errors import ApiError, FilterSyntaxError
from fluoroscope.filters.ast import Group, Node
from fluoroscope.filters.groups import Classifier, GroupDefinition
from fluoroscope.filters.parser import parse
from fluoroscope.model.summary import TraceSummary
from fluoroscope.store.groups import GroupRecord, GroupTable

REGION = "us-east-1"
ACCOUNT = "000000000000"
GROUP_LIMIT = 25
PAGE_SIZE = 100
# A filter may refer to other groups, which may refer to others: evaluating one may evaluate
# at most this many filters in all (each mention counts).
MAX_EXPANDED_FILTERS = 100
# "Default is a reserved name" (botocore, CreateGroupRequest.GroupName).
DEFAULT_GROUP = "Default"
_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,32}")


def parse_filter(text: str, member: str = "FilterExpression") -> Node:
    """Parse an expression from a request, as InvalidRequestException when it is malformed."""
    try:
        return parse(text)
    except FilterSyntaxError as exc:
        raise ApiError(f"{member}: {exc}") from None


class GroupCatalog:
    """Every group with its parsed filter; read by any thread, changed by the API."""

    def __init__(self, table: GroupTable, now: Callable[[], float] = time.time) -> None:
        self._table = table
        self._now = now
        self._records: dict[str, GroupRecord] = {}
        self._classifier = Classifier()

    def load(self) -> None:
        """Read every group from the store."""
        self._publish({r.name: r for r in self._table.all()})

    def _publish(self, records: dict[str, GroupRecord]) -> None:
        # Readers on other threads see either the old classifier or the new, never a mix.
        self._classifier = Classifier(tuple((r.name, r.arn, r.filter) for r in records.values()))
        self._records = records

    @property
    def filters(self) -> dict[str, Node | None]:
        """Name and ARN -> parsed filter (None: the group has no filter and matches everything)."""
        return self._classifier.filters

    def definitions(self) -> tuple[GroupDefinition, ...]:
        """Every group as (name, ARN, filter), for classifying traces in another process."""
        return self._classifier.definitions

    def find(self, name: str | None, arn: str | None) -> GroupRecord:
        """The group named by name or ARN, or InvalidRequestException; when both are given
        they must name the same group, so that a call never acts on another than it names."""
        records = self._records.values()
        found = [r for r in records if r.name == name or (arn is not None and r.arn == arn)]
        if not found:
            raise ApiError("Group not found")
        if len(found) > 1 or (name is not None and arn is not None and found[0].arn != arn):
            raise ApiError("GroupName and GroupARN name different groups")
        return found[0]

    def resolve(self, name: str | None, arn: str | None) -> tuple[str, float] | None:
        """(name, last change) of the group a graph request names; None when it names none."""
        if name is None and arn is None:
            return None
        record = self.find(name, arn)
        return record.name, record.updated_at

    def classify(self, summary: TraceSummary) -> list[str]:
        """The names of the groups a trace belongs to (for the graph's group statistics)."""
        return self._classifier(summary)

    def create(
        self, name: str, text: str | None, insights: bool, notifications: bool
    ) -> GroupRecord:
        """Add a group, or InvalidRequestException."""
        _check_insights(insights, notifications)
        if not _NAME.fullmatch(name):
            raise ApiError("GroupName must be 1-32 letters, digits, '.', '_' or '-'")
        if name == DEFAULT_GROUP:
            raise ApiError(f"{DEFAULT_GROUP} is a reserved group name")
        if len(self._records) >= GROUP_LIMIT:
            raise ApiError(f"at most {GROUP_LIMIT} groups can exist")
        unique = hashlib.blake2b(f"{name}{self._now()}".encode(), digest_size=12).hexdigest()
        record = GroupRecord(
            name, f"arn:aws:xray:{REGION}:{ACCOUNT}:group/{name}/{unique.upper()}",
            text or None, insights, notifications, self._now(),
        )  # fmt: skip
        if text:
            self._check_references(record, parse_filter(text))
        if not self._table.insert(record):
            raise ApiError(f"a group named {name} already exists")
        self._publish({**self._records, name: record})
        return record

    def update(
        self,
        record: GroupRecord,
        text: str | None,
        insights: bool | None,
        notifications: bool | None,
    ) -> GroupRecord:
        """Change a group's filter or settings."""
        _check_insights(
            record.insights if insights is None else insights,
            record.notifications if notifications is None else notifications,
        )
        if text:
            self._check_references(record, parse_filter(text))
        changed = GroupRecord(
            record.name, record.arn, record.filter if text is None else (text or None),
            record.insights if insights is None else insights,
            record.notifications if notifications is None else notifications,
            self._now() if text is not None and text != record.filter else record.updated_at,
        )  # fmt: skip
        self._table.update(changed)
        self._publish({**self._records, record.name: changed})
        return changed

    def _check_references(self, record: GroupRecord, node: Node) -> None:
        """Refuse a filter whose ``group.name``/``group.arn`` references lead back to its own
        group, or expand into more than MAX_EXPANDED_FILTERS filters: each reference is
        evaluated in full for every trace written, so a cycle, or references that multiply
        through other groups, would cost that evaluation without bound."""
        records = {r.name: r for r in self._records.values() if r.name != record.name}
        records[record.name] = record
        by_key = {key: r.name for r in records.values() for key in (r.name, r.arn)}
        filters: dict[str, Node | None] = {name: self.filters.get(name) for name in records}
        filters[record.name] = node
        references = {
            name: [by_key[key] for key in _references(tree) if key in by_key]
            for name, tree in filters.items()
        }
        expanded: dict[str, int] = {}

        def size(name: str, path: frozenset[str]) -> int:
            """How many filters evaluating ``name`` evaluates, its own included."""
            if name in path:
                raise ApiError(f"FilterExpression leads back to the group {record.name} itself")
            if name not in expanded:
                inner = path | {name}
                expanded[name] = 1 + sum(size(other, inner) for other in references[name])
            return expanded[name]

        for name in filters:
            if size(name, frozenset()) > MAX_EXPANDED_FILTERS:
                raise ApiError(
                    f"FilterExpression: the group {name} would expand into "
                    f"{expanded[name]:,} group filters; at most {MAX_EXPANDED_FILTERS} are allowed"
                )

    def delete(self, record: GroupRecord) -> None:
        """Remove a group."""
        self._table.delete(record.name)
        self._publish({k: v for k, v in self._records.items() if k != record.name})

    def all(self) -> list[GroupRecord]:
        """Every group, by name."""
        return sorted(self._records.values(), key=lambda r: r.name)

    def close(self) -> None:
        """Release the group table's connection."""
        self._table.close()


class GroupOperations:
    """Handlers for the group operations."""

    def __init__(self, catalog: GroupCatalog, executor: Executor) -> None:
        self._catalog = catalog
        self._executor = executor

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    async def create_group(self, body: dict[str, Any]) -> object:
        """CreateGroup."""
        name = protocol.string(body, "GroupName", required=True, min_length=1, max_length=32)
        assert name is not None
        text = _filter_text(body)
        insights, notifications = _insights(body)
        record = await self._run(
            self._catalog.create, name, text, bool(insights), bool(notifications)
        )
        return {"Group": _group(record)}

    def _named(self, body: dict[str, Any]) -> GroupRecord:
        name = protocol.string(body, "GroupName", min_length=1, max_length=32)
        arn = protocol.string(body, "GroupARN", min_length=1, max_length=400)
        if name is None and arn is None:
            raise ApiError("GroupName or GroupARN is required")
        return self._catalog.find(name, arn)

    async def get_group(self, body: dict[str, Any]) -> object:
        """GetGroup."""
        return {"Group": _group(self._named(body))}

    async def get_groups(self, body: dict[str, Any]) -> object:
        """GetGroups, a page of 100 at a time."""
        token = protocol.string(body, "NextToken", min_length=1, max_length=100)
        records = self._catalog.all()
        start = 0
        if token is not None:
            start = tokens.offset(tokens.decode(token, "groups"))
        page = records[start : start + PAGE_SIZE]
        reply: dict[str, object] = {"Groups": [_group(r) for r in page]}
        if start + PAGE_SIZE < len(records):
            reply["NextToken"] = tokens.encode("groups", {"after": start + PAGE_SIZE})
        return reply

    async def update_group(self, body: dict[str, Any]) -> object:
        """UpdateGroup."""
        record = self._named(body)
        text = _filter_text(body)
        insights, notifications = _insights(body)
        changed = await self._run(self._catalog.update, record, text, insights, notifications)
        return {"Group": _group(changed)}

    async def delete_group(self, body: dict[str, Any]) -> object:
        """DeleteGroup."""
        await self._run(self._catalog.delete, self._named(body))
        return {}


def _filter_text(body: dict[str, Any]) -> str | None:
    """The group's FilterExpression; blank means no filter, as in GetTraceSummaries."""
    text = protocol.string(body, "FilterExpression")
    return "" if text is not None and not text.strip() else text


def _insights(body: dict[str, Any]) -> tuple[bool | None, bool | None]:
    config = protocol.structure(body, "InsightsConfiguration")
    if config is None:
        return None, None
    return protocol.boolean(config, "InsightsEnabled"), protocol.boolean(
        config, "NotificationsEnabled"
    )


def _check_insights(insights: bool, notifications: bool) -> None:
    """Notifications are of insights: botocore's model allows them only with insights on."""
    if notifications and not insights:
        raise ApiError("NotificationsEnabled can only be true when InsightsEnabled is true")


def _group(record: GroupRecord) -> dict[str, object]:
    out: dict[str, object] = {"GroupName": record.name, "GroupARN": record.arn}
    if record.filter is not None:
        out["FilterExpression"] = record.filter
    out["InsightsConfiguration"] = {
        "InsightsEnabled": record.insights,
        "NotificationsEnabled": record.notifications,
    }
    return out


def _references(node: object) -> list[str]:
    """The group names and ARNs a parsed filter refers to, anywhere in it, once per mention."""
    if isinstance(node, Group):
        return [node.value]
    found: list[str] = []
    if dataclasses.is_dataclass(node):
        for member in dataclasses.fields(node):
            found += _references(getattr(node, member.name))
    return found
