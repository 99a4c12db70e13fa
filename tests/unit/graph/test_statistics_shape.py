"""Statistics of weighted (sampled) traces, rounded so that their parts add up."""

from hypothesis import given
from hypothesis import strategies as st

from fluoroscope.graph.service_graph import apportion, histogram, summary_statistics
from fluoroscope.model.statistics import BUCKETS


def test_two_ok_and_two_faulting_traces_each_standing_for_three_and_a_third() -> None:
    """Kept with probability 0.3, each counts 3.33: 6.67 + 6.67 makes 13 or 14, not 7 + 7
    beside a total of 13."""
    weight = 1 / 0.3
    buckets = [0.0] * BUCKETS
    buckets[0], buckets[5] = 2 * weight, 2 * weight
    values = [2 * weight, 0.0, 0.0, 2 * weight, 4 * weight, 1.0, *buckets]

    stats = summary_statistics(values)
    counts = [entry["Count"] for entry in histogram(values)]

    assert stats["OkCount"] + stats["FaultStatistics"]["TotalCount"] == stats["TotalCount"] == 13
    assert sum(counts) == stats["TotalCount"]


@given(st.lists(st.floats(min_value=-1e-9, max_value=1e6), min_size=1, max_size=12))
def test_apportioned_counts_add_up_to_the_rounded_sum(parts: list[float]) -> None:
    counts = apportion(parts)

    assert sum(counts) == round(sum(max(part, 0.0) for part in parts))
    assert all(abs(count - max(part, 0.0)) < 1 for count, part in zip(counts, parts, strict=True))
