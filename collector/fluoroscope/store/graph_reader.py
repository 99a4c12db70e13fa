"""Reading the service graph's per-minute statistics, summed over a window."""

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from fluoroscope.model.services import ServiceId
from fluoroscope.model.statistics import BUCKETS
from fluoroscope.store.reader import TraceReader

_KEY = (
    "kind, src_name, src_type, src_account, src_inferred, "
    "dst_name, dst_type, dst_account, dst_inferred"
)


@dataclass(slots=True)
class GraphRow:
    """A node's or an edge's statistics summed over a window (or one period of it)."""

    kind: str  # "n" node, "e" edge
    source: ServiceId
    target: ServiceId | None
    # The first and last minute with statistics (where exact times are known, as in a trace
    # graph: the first start, and the last end less a minute).
    first_minute: float
    last_minute: float
    # ok, error, throttle, fault, total, total response time, then the histogram buckets.
    values: list[float]


class GraphReader:
    """Queries over ``graph_minutes``, on the store's reader connections."""

    def __init__(self, reader: TraceReader) -> None:
        self._reader = reader

    def window(self, group: str, start: float, end: float) -> list[GraphRow]:
        """Every node and edge with statistics in minutes overlapping [start, end)."""
        return self._query(group, start, end, None)

    def periods(
        self, group: str, start: float, end: float, period: int
    ) -> dict[int, list[GraphRow]]:
        """Statistics per period (aligned to multiples of ``period`` seconds)."""
        rows = self._query(group, start, end, period)
        out: dict[int, list[GraphRow]] = {}
        for row in rows:
            minute = int(row.first_minute)
            out.setdefault(minute - minute % period, []).append(row)
        return out

    def _query(self, group: str, start: float, end: float, period: int | None) -> list[GraphRow]:
        # A minute [m, m + 60) overlaps the window when start - 60 < m < end. Whole hours
        # inside that come from graph_hours (a period of a whole number of hours likewise).
        low, high = start - 60, end
        first_hour = (math.floor(low / 3600) + 1) * 3600  # the first hour starting after low
        last_hour = (math.ceil((high - 3540) / 3600) - 1) * 3600  # the last ending before high
        use_hours = last_hour >= first_hour and (period is None or period % 3600 == 0)
        connection = self._reader.connection()
        bucket = f", minute - minute % {int(period)}" if period else ""
        rows: list[GraphRow] = []
        if use_hours:
            rows += self._sum(
                connection,
                "graph_hours",
                bucket,
                "minute >= ? AND minute <= ?",
                (first_hour, last_hour),
                group,
            )
            rows += self._sum(connection, "graph_minutes", bucket,
                              "minute > ? AND minute < ? AND (minute < ? OR minute >= ?)",
                              (low, high, first_hour, last_hour + 3600), group)  # fmt: skip
        else:
            rows += self._sum(
                connection, "graph_minutes", bucket, "minute > ? AND minute < ?", (low, high), group
            )
        return rows

    def _sum(
        self,
        connection: sqlite3.Connection,
        table: str,
        bucket: str,
        where: str,
        bounds: tuple[float, ...],
        group: str,
    ) -> list[GraphRow]:
        # An hour row knows the first and last minute it has statistics for.
        first, last = (
            ("first_minute", "last_minute") if table == "graph_hours" else ("minute", "minute")
        )
        sql = (
            "SELECT json_group_array(json_array(" + _KEY + ", first, last, " + _SUMS_ALIASES + ")) "
            "FROM (SELECT "
            + _KEY
            + f", min({first}) AS first, max({last}) AS last, "
            + _SUMS_NAMED
            + f" FROM {table} WHERE grp = ? AND {where} "
            "GROUP BY " + _KEY + bucket + " HAVING sum(total) > 0)"
        )
        (result,) = connection.execute(sql, (group, *bounds)).fetchone()
        return [_row(values) for values in orjson.loads(result)]


_SUMS_NAMED = ", ".join(
    [f"sum({c}) AS s_{c}" for c in ("ok", "error", "throttle", "fault", "total", "total_rt")]
    + [f"sum(h{i}) AS s_h{i}" for i in range(BUCKETS)]
)
_SUMS_ALIASES = ", ".join(
    [f"s_{c}" for c in ("ok", "error", "throttle", "fault", "total", "total_rt")]
    + [f"s_h{i}" for i in range(BUCKETS)]
)


def _row(values: list[Any]) -> GraphRow:
    kind = str(values[0])
    source = _service(values[1:5])
    target = _service(values[5:9]) if kind == "e" else None
    return GraphRow(
        kind, source, target, int(values[9]), int(values[10]), [float(v) for v in values[11:]]
    )


def _service(values: Sequence[Any]) -> ServiceId:
    name, kind, account, inferred = values
    return ServiceId(str(name), str(kind) or None, str(account) or None, bool(inferred))
