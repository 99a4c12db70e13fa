"""The service side of GetSamplingTargets: each rule's reservoir split among the clients using it.

X-Ray documents only that it splits a rule's reservoir evenly across running instances, best
effort (xray-protocol.md 6.8); the formula and the TTL below are Fluoroscope's (UNVERIFIED).

* **Active clients** of a rule are the ClientIDs whose last report for it arrived within
  ``active_window`` seconds (default 2 x Interval + 1 s = 21 s: two report intervals, plus room
  for the SDK's jitter of up to 0.1 s a poll and for network delay). A client that stops
  matching a rule stops reporting it and drops out of the split after two intervals.
* **Split**: with ``n`` active clients, ``base, extra = divmod(ReservoirSize, n)``; the clients
  ranked ``0 .. extra-1`` by ClientID get ``base + 1``, the others ``base``. The ranking is
  stable, so while membership holds the shares add up to exactly ReservoirSize. A client that
  gets 0 samples by FixedRate alone, which is what X-Ray intends for small reservoirs.
* **ReservoirQuotaTTL** = now + ``ttl`` (default 60 s, six intervals): long enough to ride out
  a few missed polls, short enough that a client that has left the split, or a reservoir that
  has shrunk, stops over-sampling within a minute. When it passes, the SDK goes back to
  borrowing one request a second.
* **Interval** is always 10, so every SDK reports every poll.
* **UnprocessedStatistics** codes: ``ResourceNotFoundException`` for a rule that does not exist
  (deleted, or never created) and ``InvalidRequestException`` for a malformed document; both
  are the X-Ray error shapes for those failures, and the stock SDK ignores this list.

Reports are counted into 10-second windows by the time they arrive, not by their Timestamp,
so a client's clock skew cannot move or widen history.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluoroscope.errors import ApiError
from fluoroscope.model.times import epoch_seconds
from fluoroscope.sampling.rules import INVALID_REQUEST, MAX_INT32, MAX_RULE_NAME, SamplingRule
from fluoroscope.sampling.statistics import StatisticSummary, StatisticWindows

TARGET_INTERVAL_SECONDS = 10
QUOTA_TTL_SECONDS = 60.0
ACTIVE_WINDOW_SECONDS = 2 * TARGET_INTERVAL_SECONDS + 1.0
MAX_DOCUMENTS = 25  # GetSamplingTargets accepts at most 25 statistics documents (model)
CLIENT_ID_LENGTH = 24
# Clients remembered per rule; past it the one heard from longest ago is forgotten.
MAX_CLIENTS_PER_RULE = 1000

UNKNOWN_RULE = "ResourceNotFoundException"
INVALID_DOCUMENT = INVALID_REQUEST

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class StatisticsDocument:
    """One client's report for one rule: a botocore ``SamplingStatisticsDocument``."""

    rule_name: str
    client_id: str
    timestamp: float
    request_count: int
    sampled_count: int
    borrow_count: int = 0

    @classmethod
    def from_api(cls, data: object) -> "StatisticsDocument":
        """Parse and validate one document; a bad member raises ``ValueError`` naming it."""
        if not isinstance(data, Mapping):
            raise ValueError("the document must be an object")
        name = data.get("RuleName")
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_RULE_NAME:
            raise ValueError(f"RuleName: must be a string of 1-{MAX_RULE_NAME} characters")
        client = data.get("ClientID")
        if not isinstance(client, str) or len(client) != CLIENT_ID_LENGTH:
            raise ValueError(f"ClientID: must be a string of {CLIENT_ID_LENGTH} characters")
        return cls(
            rule_name=name,
            client_id=client,
            timestamp=_timestamp(data.get("Timestamp")),
            request_count=_count(data, "RequestCount", required=True),
            # The AWS OpenTelemetry distro's sampler spells it SampleCount.
            sampled_count=_count(
                data,
                "SampleCount"
                if "SampledCount" not in data and "SampleCount" in data
                else "SampledCount",
                required=True,
            ),
            borrow_count=_count(data, "BorrowCount", required=False),
        )


@dataclass(frozen=True, slots=True)
class TargetDocument:
    """What one rule should do next: a botocore ``SamplingTargetDocument``."""

    rule_name: str
    fixed_rate: float
    reservoir_quota: int | None
    reservoir_quota_ttl: float | None
    interval: int | None = TARGET_INTERVAL_SECONDS

    def to_api(self) -> dict[str, Any]:
        """The wire structure; members that are None are left out (the SDK keeps its own)."""
        api: dict[str, Any] = {"RuleName": self.rule_name, "FixedRate": float(self.fixed_rate)}
        if self.reservoir_quota is not None:
            api["ReservoirQuota"] = self.reservoir_quota
        if self.reservoir_quota_ttl is not None:
            api["ReservoirQuotaTTL"] = float(self.reservoir_quota_ttl)
        if self.interval is not None:
            api["Interval"] = self.interval
        return api


@dataclass(frozen=True, slots=True)
class UnprocessedStatistic:
    """A statistics document that was not taken: a botocore ``UnprocessedStatistics``."""

    rule_name: str | None
    error_code: str
    message: str

    def to_api(self) -> dict[str, Any]:
        """The wire structure; RuleName is left out when the document had no usable one."""
        api = {"ErrorCode": self.error_code, "Message": self.message}
        if self.rule_name is not None:
            api["RuleName"] = self.rule_name
        return api


@dataclass(frozen=True, slots=True)
class TargetsReply:
    """A whole GetSamplingTargets answer."""

    targets: tuple[TargetDocument, ...]
    unprocessed: tuple[UnprocessedStatistic, ...]
    last_rule_modification: float

    def to_api(self) -> dict[str, Any]:
        """The response body; the stock SDK reads both lists and LastRuleModification blindly."""
        return {
            "SamplingTargetDocuments": [target.to_api() for target in self.targets],
            "LastRuleModification": float(self.last_rule_modification),
            "UnprocessedStatistics": [item.to_api() for item in self.unprocessed],
        }


class Quotas:
    """Per-rule reservoir shares for the clients reporting to GetSamplingTargets.

    ``clock`` returns epoch seconds. Calls may come from any thread. Memory is bounded by
    ``max_clients_per_rule`` clients for each existing rule plus the statistics windows.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ttl: float = QUOTA_TTL_SECONDS,
        interval: int = TARGET_INTERVAL_SECONDS,
        active_window: float = ACTIVE_WINDOW_SECONDS,
        max_clients_per_rule: int = MAX_CLIENTS_PER_RULE,
        windows: StatisticWindows | None = None,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._interval = interval
        self._active_window = active_window
        self._max_clients = max_clients_per_rule
        # Guards the client tables and windows, shared by concurrent API requests.
        self._lock = threading.Lock()
        # Rule name -> ClientID -> when it last reported, least recently heard from first.
        self._clients: dict[str, OrderedDict[str, float]] = {}
        self._windows = windows if windows is not None else StatisticWindows()
        #: Clients forgotten because a rule already had ``max_clients_per_rule``.
        self.evicted_clients = 0

    def get_targets(
        self,
        documents: object,
        rules: Iterable[SamplingRule],
        last_rule_modification: float,
    ) -> TargetsReply:
        """Take a GetSamplingTargets request's ``SamplingStatisticsDocuments`` and answer it.

        ``rules`` are every rule that exists now; ``last_rule_modification`` is when any rule
        was last created, changed or deleted, never "now" (xray-protocol.md 13.2). A request
        that is not a list of at most 25 documents raises :class:`ApiError`; a bad or unknown
        document goes to UnprocessedStatistics and costs the others nothing. Each rule reported
        gets one target, whose quota is the share of the ClientIDs that reported it here.
        """
        if not isinstance(documents, list):
            raise ApiError("SamplingStatisticsDocuments: must be a list of documents")
        if len(documents) > MAX_DOCUMENTS:
            raise ApiError(f"SamplingStatisticsDocuments: at most {MAX_DOCUMENTS} documents")
        by_name = {rule.rule_name: rule for rule in rules}
        now = self._clock()
        unprocessed: list[UnprocessedStatistic] = []
        reporters: dict[str, list[str]] = {}
        with self._lock:
            for name in self._clients.keys() - by_name.keys():
                del self._clients[name]
            for data in documents:
                try:
                    document = StatisticsDocument.from_api(data)
                except ValueError as error:
                    named = data.get("RuleName") if isinstance(data, Mapping) else None
                    unprocessed.append(
                        UnprocessedStatistic(
                            named if isinstance(named, str) else None, INVALID_DOCUMENT, str(error)
                        )
                    )
                    continue
                if document.rule_name not in by_name:
                    unprocessed.append(
                        UnprocessedStatistic(
                            document.rule_name,
                            UNKNOWN_RULE,
                            f"no sampling rule named {document.rule_name!r}",
                        )
                    )
                    continue
                self._record(document, now)
                clients = reporters.setdefault(document.rule_name, [])
                if document.client_id not in clients:
                    clients.append(document.client_id)
            targets = tuple(
                TargetDocument(
                    rule_name=name,
                    fixed_rate=by_name[name].fixed_rate,
                    reservoir_quota=sum(self._share(by_name[name], c, now) for c in clients),
                    reservoir_quota_ttl=now + self._ttl,
                    interval=self._interval,
                )
                for name, clients in reporters.items()
            )
        return TargetsReply(targets, tuple(unprocessed), last_rule_modification)

    def quota(self, rule: SamplingRule, client_id: str) -> int:
        """The share of ``rule``'s reservoir that ``client_id`` would be granted now."""
        with self._lock:
            return self._share(rule, client_id, self._clock())

    def active_clients(self, rule_name: str) -> tuple[str, ...]:
        """The ClientIDs sharing ``rule_name``'s reservoir now, in ranking order."""
        with self._lock:
            return self._active(rule_name, self._clock())

    def summaries(self) -> list[StatisticSummary]:
        """Every rule's reported counts in 10-second windows, oldest first, for
        GetSamplingStatisticSummaries."""
        with self._lock:
            return self._windows.summaries()

    def forget(self, rule_name: str) -> None:
        """Drop everything known about a deleted rule: its clients and its windows."""
        with self._lock:
            self._clients.pop(rule_name, None)
            self._windows.forget(rule_name)

    def _record(self, document: StatisticsDocument, now: float) -> None:
        clients = self._clients.setdefault(document.rule_name, OrderedDict())
        clients[document.client_id] = now
        clients.move_to_end(document.client_id)
        while len(clients) > self._max_clients:
            clients.popitem(last=False)
            self.evicted_clients += 1
        self._windows.add(
            document.rule_name,
            now,
            document.request_count,
            document.sampled_count,
            document.borrow_count,
        )

    def _active(self, rule_name: str, now: float) -> tuple[str, ...]:
        clients = self._clients.get(rule_name)
        if not clients:
            return ()
        horizon = now - self._active_window
        # Least recently heard from first, so expired clients are all at the front.
        while clients and next(iter(clients.values())) < horizon:
            clients.popitem(last=False)
        return tuple(sorted(clients))

    def _share(self, rule: SamplingRule, client_id: str, now: float) -> int:
        active = self._active(rule.rule_name, now)
        if client_id not in active:
            return 0
        base, extra = divmod(rule.reservoir_size, len(active))
        return base + (1 if active.index(client_id) < extra else 0)


def _count(data: Mapping[str, Any], key: str, *, required: bool) -> int:
    value = data.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT32:
        raise ValueError(f"{key}: must be an integer from 0 to {MAX_INT32}")
    return value


def _timestamp(value: object) -> float:
    try:
        return epoch_seconds(value)
    except ValueError as exc:
        raise ValueError(f"Timestamp: {exc}") from None
