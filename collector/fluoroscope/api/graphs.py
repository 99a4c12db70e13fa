"""Graph operations: GetServiceGraph, GetTraceGraph, GetTimeSeriesServiceStatistics."""

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from fluoroscope.api import protocol
from fluoroscope.api.groups import parse_filter
from fluoroscope.errors import ApiError, DocumentError
from fluoroscope.filters import refers_to
from fluoroscope.filters.ast import Edge, Service
from fluoroscope.graph import service_graph
from fluoroscope.model.facts import facts_of
from fluoroscope.model.ids import normalize_trace_id
from fluoroscope.model.services import ServiceId
from fluoroscope.model.statistics import MINUTE, Contribution, add_into, contribution
from fluoroscope.model.trace import TraceTree
from fluoroscope.store.graph_reader import GraphReader, GraphRow
from fluoroscope.store.reader import TraceReader
from fluoroscope.translate.xray_json import parse_views

MAX_TRACE_IDS = 5
# GetTimeSeriesServiceStatistics periods: whole minutes, up to a day.
MAX_PERIOD_S = 86_400

# Resolves a group name or ARN from a request to (group name, when its filter last changed),
# or raises ApiError when there is no such group.
GroupResolver = Callable[[str | None, str | None], tuple[str, float] | None]
# Picks the rows of a time series: (rows of one period) -> rows that match the selector.
Selector = Callable[[list[GraphRow]], list[GraphRow]]
# Compiles an EntitySelectorExpression into a selector and whether it names a service (node
# statistics) or an edge.
SelectorCompiler = Callable[[str], tuple[Selector, bool]]


class GraphOperations:
    """Handlers for the graph operations."""

    def __init__(
        self,
        reader: TraceReader,
        executor: Executor,
        groups: GroupResolver,
        selectors: SelectorCompiler,
    ) -> None:
        self._reader = reader
        self._graphs = GraphReader(reader)
        self._executor = executor
        self._groups = groups
        self._selectors = selectors

    def _window(self, body: dict[str, Any]) -> tuple[float, float]:
        start = protocol.required_timestamp(body, "StartTime")
        end = protocol.required_timestamp(body, "EndTime")
        if end < start:
            raise ApiError("EndTime must not be before StartTime")
        return start, end

    def _group(self, body: dict[str, Any], start: float) -> tuple[str, bool]:
        name = protocol.string(body, "GroupName", min_length=1, max_length=32)
        arn = protocol.string(body, "GroupARN", min_length=1, max_length=400)
        resolved = self._groups(name, arn)
        if resolved is None:
            return "", False
        group, changed_at = resolved
        return group, changed_at > start

    async def get_service_graph(self, body: dict[str, Any]) -> object:
        """The graph of every node and edge with statistics in the window."""
        start, end = self._window(body)
        group, old_versions = self._group(body, start)
        protocol.string(body, "NextToken")
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(self._executor, self._graphs.window, group, start, end)
        graph = service_graph.build(rows)
        return {
            "StartTime": start,
            "EndTime": end,
            "Services": service_graph.services(graph, start, end),
            "ContainsOldGroupVersions": old_versions,
        }

    async def get_trace_graph(self, body: dict[str, Any]) -> object:
        """The graph of the given traces (1-5)."""
        requested = protocol.string_list(
            body,
            "TraceIds",
            required=True,
            min_items=1,
            max_items=MAX_TRACE_IDS,
            max_length=protocol.MAX_TRACE_ID_LENGTH,
        )
        protocol.string(body, "NextToken")
        wanted = [t for t in (normalize_trace_id(i) for i in requested) if t]
        loop = asyncio.get_running_loop()
        stored = await loop.run_in_executor(self._executor, self._reader.traces, wanted)
        total: Contribution = {}
        # The exact times of each node's visits and each edge's calls: a trace graph has them.
        spans: dict[tuple[str, ServiceId, ServiceId | None], tuple[float, float]] = {}
        first = float("inf")
        last = 0.0
        for trace in stored.values():
            segments = []
            for raw in trace.documents:
                try:
                    segments += parse_views(raw)
                except DocumentError:
                    continue
            if not segments:
                continue
            tree = TraceTree(segments)
            facts = facts_of(tree)
            add_into(total, contribution(facts))
            for visit in facts.visits:
                _widen(spans, ("n", visit.service, None), visit.start, visit.end)
            for call in facts.calls:
                _widen(spans, ("e", call.source, call.target), call.start, call.end)
            first = min(first, *(s.start_time for s in segments))
            last = max(last, *(e.end for e in tree.entities.values()))
        rows = []
        for (_, kind, minute, source, target), values in total.items():
            span = spans.get((kind, source, target))
            # The graph reports a row's end as its last minute plus one.
            start, end = span if span is not None else (minute, minute + MINUTE)
            rows.append(GraphRow(kind, source, target, start, end - MINUTE, values))
        graph = service_graph.build(rows)
        if not rows:
            return {"Services": []}
        return {"Services": service_graph.services(graph, first, last)}

    async def get_time_series_service_statistics(self, body: dict[str, Any]) -> object:
        """Statistics per period for the selected service or edge (all edges if none)."""
        start, end = self._window(body)
        group, old_versions = self._group(body, start)
        expression = protocol.string(body, "EntitySelectorExpression", min_length=1, max_length=500)
        period = int(protocol.number(body, "Period", low=60, high=MAX_PERIOD_S, integer=True) or 60)
        if period % 60:
            raise ApiError("Period must be a multiple of 60 seconds")
        protocol.boolean(body, "ForecastStatistics")
        protocol.string(body, "NextToken")
        if expression is None:
            select: Selector = _all_edges
            is_service = False
        else:
            select, is_service = self._selectors(expression)
        loop = asyncio.get_running_loop()
        periods = await loop.run_in_executor(
            self._executor, self._graphs.periods, group, start, end, period
        )
        series = []
        for moment in sorted(periods):
            chosen = select(periods[moment])
            if not chosen:
                continue
            values = [sum(column) for column in zip(*(row.values for row in chosen), strict=True)]
            entry: dict[str, object] = {"Timestamp": float(moment)}
            statistics = service_graph.summary_statistics(values)
            if is_service:
                entry["ServiceSummaryStatistics"] = statistics
            else:
                entry["EdgeSummaryStatistics"] = statistics
            entry["ResponseTimeHistogram"] = service_graph.histogram(values)
            series.append(entry)
        return {"TimeSeriesServiceStatistics": series, "ContainsOldGroupVersions": old_versions}


def _all_edges(rows: list[GraphRow]) -> list[GraphRow]:
    return [row for row in rows if row.kind == "e"]


def compile_selector(expression: str) -> tuple[Selector, bool]:
    """An EntitySelectorExpression (``service(...)`` or ``edge(...)``) as a row selector."""
    node = parse_filter(expression, "EntitySelectorExpression")
    if isinstance(node, Service) and node.block is None:
        ref = node.node

        def services(rows: list[GraphRow]) -> list[GraphRow]:
            nodes = [row for row in rows if row.kind == "n" and refers_to(row.source, ref)]
            # Inferred nodes keep no rows of their own: the calls into them stand for them.
            into = [
                row
                for row in rows
                if row.kind == "e"
                and row.target is not None
                and row.target.inferred
                and row.target.type != "client"
                and refers_to(row.target, ref)
            ]
            return nodes + into

        return services, True
    if isinstance(node, Edge) and node.block is None:
        source, target = node.source, node.target

        def edges(rows: list[GraphRow]) -> list[GraphRow]:
            return [
                row
                for row in rows
                if row.kind == "e"
                and refers_to(row.source, source)
                and row.target is not None
                and refers_to(row.target, target)
            ]

        return edges, False
    raise ApiError("EntitySelectorExpression must be a service(...) or edge(...) without a block")


def _widen(
    spans: dict[tuple[str, ServiceId, ServiceId | None], tuple[float, float]],
    key: tuple[str, ServiceId, ServiceId | None],
    start: float,
    end: float,
) -> None:
    known = spans.get(key)
    spans[key] = (start, end) if known is None else (min(known[0], start), max(known[1], end))
