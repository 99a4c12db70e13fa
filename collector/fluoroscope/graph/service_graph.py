"""The service graph: a networkx DiGraph of nodes and edges, and its X-Ray ``Service`` shape.

Nodes are services identified by (name, type, account); a synthetic client node calls each
root service. Node statistics come from the service's own visits (for inferred nodes, from the
calls into them); edge statistics from the caller's side of each call. GetServiceGraph,
GetTraceGraph and GetTimeSeriesServiceStatistics all go through here, so they agree.
"""

from collections.abc import Iterable

import networkx as nx

from fluoroscope.model.facts import CLIENT_TYPE
from fluoroscope.model.services import ServiceId
from fluoroscope.model.statistics import BUCKETS, MINUTE, bucket_value
from fluoroscope.store.graph_reader import GraphRow

ApiObject = dict[str, object]


def build(rows: Iterable[GraphRow]) -> "nx.DiGraph[ServiceId]":
    """Nodes and edges with their summed statistics and first/last minutes."""
    graph: nx.DiGraph[ServiceId] = nx.DiGraph()
    for row in rows:
        if row.kind == "n":
            _add_node(graph, row.source)
            _merge(graph.nodes[row.source], row)
        elif row.target is not None:
            _add_node(graph, row.source)
            _add_node(graph, row.target)
            if not graph.has_edge(row.source, row.target):
                graph.add_edge(row.source, row.target, values=None, first=None, last=None)
            _merge(graph.edges[row.source, row.target], row)
            # An inferred node keeps no statistics of its own: they are the calls into it.
            if row.target.inferred and row.target.type != CLIENT_TYPE:
                _merge(graph.nodes[row.target], row)
    return graph


def _add_node(graph: "nx.DiGraph[ServiceId]", service: ServiceId) -> None:
    if service not in graph:
        graph.add_node(service, values=None, first=None, last=None)


def _merge(attributes: dict[str, object], row: GraphRow) -> None:
    values = attributes["values"]
    if values is None:
        attributes["values"] = list(row.values)
        attributes["first"] = row.first_minute
        attributes["last"] = row.last_minute
        return
    assert isinstance(values, list)
    for index, value in enumerate(row.values):
        values[index] += value
    attributes["first"] = min(float(attributes["first"]), row.first_minute)  # type: ignore[arg-type]
    attributes["last"] = max(float(attributes["last"]), row.last_minute)  # type: ignore[arg-type]


def services(graph: "nx.DiGraph[ServiceId]", start: float, end: float) -> list[ApiObject]:
    """The botocore ``Service`` list: every node with its outgoing edges."""
    order = sorted(graph.nodes, key=_position)
    reference = {service: index for index, service in enumerate(order)}
    roots = {target for source, target in graph.edges if source.type == CLIENT_TYPE}
    out: list[ApiObject] = []
    for service in order:
        attributes = graph.nodes[service]
        node: ApiObject = {
            "ReferenceId": reference[service],
            "Name": service.name,
            "Names": [service.name],
            "Root": service in roots,
        }
        if service.account_id is not None:
            node["AccountId"] = service.account_id
        if service.type is not None:
            node["Type"] = service.type
        node["State"] = "unknown" if service.inferred else "active"
        edges = []
        first: list[float] = []
        last: list[float] = []
        for _, target, edge in graph.out_edges(service, data=True):
            values = edge["values"]
            first.append(edge["first"])
            last.append(edge["last"])
            edges.append(
                {
                    "ReferenceId": reference[target],
                    "StartTime": _clip(edge["first"], start, end),
                    "EndTime": _clip(edge["last"] + MINUTE, start, end),
                    "SummaryStatistics": summary_statistics(values),
                    "ResponseTimeHistogram": histogram(values),
                    "Aliases": [],
                }
            )
        node["Edges"] = edges
        values = attributes["values"]
        if values is not None:
            first.append(attributes["first"])
            last.append(attributes["last"])
            node["SummaryStatistics"] = summary_statistics(values)
            node["DurationHistogram"] = histogram(values)
            node["ResponseTimeHistogram"] = histogram(values)
        if first:
            node["StartTime"] = _clip(min(first), start, end)
            node["EndTime"] = _clip(max(last) + MINUTE, start, end)
        out.append(node)
    return out


def _position(service: ServiceId) -> tuple[bool, str, str, str]:
    """Clients last, then by name: reference ids are stable for the same graph."""
    return (service.type == CLIENT_TYPE, service.name, service.type or "", service.account_id or "")


def summary_statistics(values: list[float]) -> ApiObject:
    """Counts in the ``ServiceStatistics``/``EdgeStatistics`` shape.

    Sampled traces count 1/probability times, so the sums are fractions; they are rounded so
    that the parts still add up to the totals (ok + errors + faults = total), as clients that
    compute rates from them expect.
    """
    ok, error, throttle, fault, _total, total_rt = values[:6]  # total: the parts, summed
    ok_count, error_count, throttle_count, fault_count = apportion([ok, error, throttle, fault])
    return {
        "OkCount": ok_count,
        "ErrorStatistics": {
            "ThrottleCount": throttle_count,
            "OtherCount": error_count,
            "TotalCount": error_count + throttle_count,
        },
        "FaultStatistics": {"OtherCount": fault_count, "TotalCount": fault_count},
        "TotalCount": ok_count + error_count + throttle_count + fault_count,
        "TotalResponseTime": round(total_rt, 6),
    }


def histogram(values: list[float]) -> list[ApiObject]:
    """The non-empty buckets as ``HistogramEntry`` items, rounded as the counts are."""
    counts = apportion(values[6 : 6 + BUCKETS])
    return [
        {"Value": bucket_value(bucket), "Count": count}
        for bucket, count in enumerate(counts)
        if count > 0
    ]


def apportion(parts: list[float]) -> list[int]:
    """Whole numbers for fractional ``parts`` that add up to their rounded sum: each is
    rounded down, and what is missing goes to those that lost the most (largest remainders).
    Weighted sums that cancelled out leave residues near zero, even below it: those count 0."""
    clean = [max(part, 0.0) for part in parts]
    counts = [int(part) for part in clean]
    missing = round(sum(clean)) - sum(counts)
    by_remainder = sorted(range(len(clean)), key=lambda i: counts[i] - clean[i])
    for index in by_remainder[: max(missing, 0)]:
        counts[index] += 1
    return counts


def _clip(moment: float, start: float, end: float) -> float:
    return float(min(max(moment, start), end))
