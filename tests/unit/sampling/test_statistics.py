"""Statistics windows: 10-second buckets per rule, bounded in count and in rules."""

import pytest

from fluoroscope.sampling import StatisticWindows

T0 = 1795579420.0  # a multiple of 10


def rows(windows):
    return [
        (s.rule_name, s.timestamp, s.request_count, s.sampled_count, s.borrow_count)
        for s in windows.summaries()
    ]


def test_counts_in_one_window_add_up():
    """Everything within the same 10 seconds lands in one window."""
    windows = StatisticWindows()
    windows.add("checkout", T0, 3, 1, 1)

    windows.add("checkout", T0 + 9.99, 2, 1, 0)

    assert rows(windows) == [("checkout", T0, 5, 2, 1)]


def test_windows_start_on_multiples_of_ten_seconds():
    """A window's timestamp is the start of its 10 seconds, not the first count's time."""
    windows = StatisticWindows()

    windows.add("checkout", T0 + 13.5, 1, 0, 0)

    assert rows(windows) == [("checkout", T0 + 10, 1, 0, 0)]


def test_summaries_are_ordered_by_window_then_rule():
    """Oldest window first; within a window, rules by name."""
    windows = StatisticWindows()
    windows.add("zeta", T0 + 10, 1, 0, 0)
    windows.add("alpha", T0 + 10, 1, 0, 0)

    windows.add("zeta", T0, 1, 0, 0)

    assert [(name, stamp) for name, stamp, *_ in rows(windows)] == [
        ("zeta", T0),
        ("alpha", T0 + 10),
        ("zeta", T0 + 10),
    ]


def test_only_the_newest_windows_are_kept():
    """Past ``retain`` windows, the oldest is dropped."""
    windows = StatisticWindows(retain=3)

    for index in range(5):
        windows.add("checkout", T0 + 10 * index, 1, 0, 0)

    assert [stamp for _, stamp, *_ in rows(windows)] == [T0 + 20, T0 + 30, T0 + 40]


def test_counts_older_than_every_kept_window_are_dropped_and_counted():
    """A clock stepped far back cannot grow the history; the loss is counted."""
    windows = StatisticWindows(retain=2)
    windows.add("checkout", T0 + 10, 1, 0, 0)
    windows.add("checkout", T0 + 20, 1, 0, 0)

    windows.add("checkout", T0, 1, 0, 0)

    assert windows.dropped == 1
    assert len(rows(windows)) == 2


def test_a_late_count_for_a_kept_window_still_lands_there():
    """A count for an earlier window that is still kept adds to it."""
    windows = StatisticWindows()
    windows.add("checkout", T0, 1, 0, 0)
    windows.add("checkout", T0 + 10, 1, 0, 0)

    windows.add("checkout", T0 + 5, 1, 0, 0)

    assert rows(windows)[0] == ("checkout", T0, 2, 0, 0)


def test_rules_per_window_are_bounded():
    """Past ``max_rules`` in one window, further rules' counts are dropped and counted."""
    windows = StatisticWindows(max_rules=2)
    windows.add("a", T0, 1, 0, 0)
    windows.add("b", T0, 1, 0, 0)

    windows.add("c", T0, 1, 0, 0)

    assert [name for name, *_ in rows(windows)] == ["a", "b"]
    assert windows.dropped == 1


def test_a_summary_has_the_botocore_shape():
    """``to_api`` gives SamplingStatisticSummary's members."""
    windows = StatisticWindows()
    windows.add("checkout", T0, 4, 2, 1)

    (summary,) = windows.summaries()

    assert summary.to_api() == {
        "RuleName": "checkout",
        "Timestamp": T0,
        "RequestCount": 4,
        "BorrowCount": 1,
        "SampledCount": 2,
    }


def test_counts_past_32_bits_are_returned_as_the_largest_the_api_carries():
    """Many clients' reports can sum past the model's 32-bit counts: the API says 2**31 - 1."""
    windows = StatisticWindows()
    for _ in range(3):
        windows.add("checkout", T0, 2**31 - 1, 2**30, 5)

    (summary,) = windows.summaries()

    assert summary.request_count == 3 * (2**31 - 1)
    api = summary.to_api()
    largest = 2**31 - 1
    assert (api["RequestCount"], api["SampledCount"], api["BorrowCount"]) == (largest, largest, 15)


def test_sizes_must_be_positive():
    """A zero-width window or zero retention is a programming error."""
    with pytest.raises(ValueError, match="positive"):
        StatisticWindows(retain=0)
