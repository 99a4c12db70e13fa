"""Graph statistics summed over windows, from minute and hour rows."""

import random
from pathlib import Path

import pytest

from fluoroscope.model.services import ServiceId
from fluoroscope.model.statistics import STAT_WIDTH, Contribution
from fluoroscope.store.graph_reader import GraphReader
from fluoroscope.store.store import Store

API = ServiceId("api", "AWS::EC2::Instance")
DB = ServiceId("db", "AWS::DynamoDB::Table", None, True)
BASE = 1_800_000_000 - 1_800_000_000 % 3600  # an hour boundary


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[int, float]]:
    """Edge counts in every minute of five hours; returns the store and the count per minute."""
    store = Store(Path(tmp_path_factory.mktemp("graph")))
    store.open()
    rng = random.Random(3)
    per_minute: dict[int, float] = {}
    graph: Contribution = {}
    for minute in range(BASE, BASE + 5 * 3600, 60):
        count = float(rng.randint(1, 9))
        per_minute[minute] = count
        values = [0.0] * STAT_WIDTH
        values[0] = values[4] = count
        graph[("", "e", minute, API, DB)] = values
    store.write([], 0.0, None, graph)
    store.writer.stop(10)
    return store, per_minute


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (BASE, BASE + 5 * 3600),
        (BASE + 30, BASE + 2 * 3600 + 90),
        (BASE - 600, BASE + 3600),
        (BASE + 3599, BASE + 3601),
        (BASE + 1800, BASE + 4 * 3600 + 1799),
        (BASE + 7200, BASE + 7200),
    ],
)
def test_a_window_sums_exactly_the_minutes_it_overlaps(
    filled: tuple[Store, dict[int, float]], start: float, end: float
) -> None:
    """Whole hours come from the hourly rollup, the rest from minutes; the sum is the same."""
    store, per_minute = filled
    expected = sum(c for minute, c in per_minute.items() if start - 60 < minute < end)

    rows = GraphReader(store.reader).window("", start, end)

    assert sum(row.values[4] for row in rows) == expected


def test_periods_group_minutes_by_period(filled: tuple[Store, dict[int, float]]) -> None:
    """Five-minute periods hold the sum of their five minutes."""
    store, per_minute = filled

    periods = GraphReader(store.reader).periods("", BASE, BASE + 1800, 300)

    assert sorted(periods) == list(range(BASE, BASE + 1800, 300))
    for moment, rows in periods.items():
        assert sum(r.values[4] for r in rows) == sum(
            per_minute[m] for m in range(moment, moment + 300, 60)
        )


def test_whole_hours_still_say_when_a_node_was_first_and_last_seen(tmp_path: Path) -> None:
    """Requests from HH:30 to HH:59 in a window of whole hours are first seen at HH:30 and
    last at HH:59, not at the hour's start (what the hourly rollup is filed under)."""
    store = Store(tmp_path)
    store.open()
    graph: Contribution = {}
    for minute in (BASE + 1800, BASE + 3540):
        values = [0.0] * STAT_WIDTH
        values[0] = values[4] = 1.0
        graph[("", "e", minute, API, DB)] = values
    store.write([], 0.0, None, graph)
    store.writer.stop(10)

    (row,) = GraphReader(store.reader).window("", BASE - 3600, BASE + 7200)
    store.close()

    assert (row.first_minute, row.last_minute) == (BASE + 1800, BASE + 3540)
