"""GetTraceSummaries through boto3: time ranges, order, and paging with botocore's paginator.

Each test puts its traces in an hour of the past that no other test uses (``new_window``), so
the shared collector's other traces never show up in its windows.
"""

import time

import pytest

from tests.compat.documents import dumps, new_trace_id, new_window, segment
from tests.compat.queries import summaries

# More than ten pages of the collector's 100 summaries.
PAGED_TRACES = 1_050
PUT_BATCH = 150


def _put(client, *docs):
    for i in range(0, len(docs), PUT_BATCH):
        chunk = docs[i : i + PUT_BATCH]
        reply = client.put_trace_segments(TraceSegmentDocuments=[dumps(doc) for doc in chunk])
        assert reply["UnprocessedTraceSegments"] == []


def _ids(found):
    return [summary["Id"] for summary in found]


def _refused(raised):
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture(scope="module")
def paged(xray):
    """1,050 traces 3 s apart in an hour of their own: (window start, ids oldest first)."""
    window = new_window()
    docs = [segment(new_trace_id(window + 3 * i)) for i in range(PAGED_TRACES)]
    _put(xray, *docs)
    return window, [doc["trace_id"] for doc in docs]


def test_the_paginator_returns_every_trace_exactly_once(xray, paged):
    """Following NextToken over 1,050 traces yields each once, over many pages, then stops."""
    window, trace_ids = paged
    paginator = xray.get_paginator("get_trace_summaries")

    pages = list(paginator.paginate(StartTime=window, EndTime=window + 3_600))

    found = _ids(summary for page in pages for summary in page["TraceSummaries"])
    assert len(found) == PAGED_TRACES
    assert set(found) == set(trace_ids)
    assert len(pages) > PAGED_TRACES // 100
    assert "NextToken" not in pages[-1]


def test_pages_run_newest_first(xray, paged):
    """The first page holds the newest traces, and each page is older than the one before."""
    window, trace_ids = paged

    found = summaries(xray, StartTime=window, EndTime=window + 3_600)

    assert _ids(found) == trace_ids[::-1]


def test_traces_sent_out_of_order_are_listed_newest_first(xray):
    """Order follows the traces' times, not the order they arrived in."""
    window = new_window()
    oldest, middle, newest = (segment(new_trace_id(window + offset)) for offset in (0, 60, 120))
    _put(xray, middle, newest, oldest)

    found = summaries(xray, StartTime=window, EndTime=window + 3_600)

    assert _ids(found) == [doc["trace_id"] for doc in (newest, middle, oldest)]


def test_the_trace_id_range_is_the_start_the_id_names(xray):
    """TimeRangeType TraceId (the default) matches the id's second within [StartTime, EndTime)."""
    window = new_window()
    document = segment(new_trace_id(window + 100))
    _put(xray, document)

    inside = summaries(xray, StartTime=window + 100, EndTime=window + 101, TimeRangeType="TraceId")
    before = summaries(xray, StartTime=window, EndTime=window + 100)
    after = summaries(xray, StartTime=window + 101, EndTime=window + 3_600)

    assert _ids(inside) == [document["trace_id"]]
    assert (before, after) == ([], [])


def test_the_event_range_is_when_the_trace_was_last_updated(xray):
    """TimeRangeType Event finds a trace that started days ago by when it was received."""
    document = segment(new_trace_id(new_window()))
    before = time.time()
    _put(xray, document)
    after = time.time()

    by_event = summaries(xray, StartTime=before, EndTime=after, TimeRangeType="Event")
    by_start = summaries(xray, StartTime=before, EndTime=after, TimeRangeType="TraceId")

    assert _ids(by_event) == [document["trace_id"]]
    assert by_start == []


def test_the_service_range_is_when_the_segments_ended(xray):
    """TimeRangeType Service finds a half-hour trace by its end, not by its start."""
    window = new_window()
    document = segment(new_trace_id(window), start=window + 0.5, duration=1_800.0)
    _put(xray, document)

    at_end = summaries(
        xray, StartTime=window + 1_800, EndTime=window + 1_801, TimeRangeType="Service"
    )
    by_start = summaries(xray, StartTime=window + 1_800, EndTime=window + 1_801)

    assert _ids(at_end) == [document["trace_id"]]
    assert by_start == []


def test_a_trace_whose_id_epoch_is_random_is_found_by_its_real_start(xray):
    """Ids minted by OpenTelemetry carry a random epoch; the trace's real start is used instead."""
    window = new_window()
    random_epoch = 0x1A2B3C4D  # 1983: nowhere near the trace's real time
    document = segment(new_trace_id(random_epoch), start=window + 10.25)
    _put(xray, document)

    at_start = summaries(xray, StartTime=window + 10, EndTime=window + 11)
    at_epoch = summaries(xray, StartTime=random_epoch, EndTime=random_epoch + 1)

    assert _ids(at_start) == [document["trace_id"]]
    assert document["trace_id"] not in _ids(at_epoch)


def test_a_next_token_from_another_query_is_refused(xray, paged):
    """A NextToken only continues the query that issued it."""
    window, _ = paged
    first = xray.get_trace_summaries(StartTime=window, EndTime=window + 3_600)

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.get_trace_summaries(
            StartTime=window, EndTime=window + 1_800, NextToken=first["NextToken"]
        )

    assert _refused(raised) == (400, "InvalidRequestException")


def test_a_forged_next_token_is_refused(xray):
    """A NextToken the collector never issued is an InvalidRequestException."""
    window = new_window()

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.get_trace_summaries(StartTime=window, EndTime=window + 60, NextToken="bm90IG91cnM")

    assert _refused(raised) == (400, "InvalidRequestException")


def test_an_end_time_before_the_start_time_is_refused(xray):
    """EndTime before StartTime is an InvalidRequestException."""
    window = new_window()

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.get_trace_summaries(StartTime=window + 60, EndTime=window)

    assert _refused(raised) == (400, "InvalidRequestException")


def test_an_unknown_time_range_type_is_refused(xray):
    """botocore does not check enums, so the collector does."""
    window = new_window()

    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.get_trace_summaries(StartTime=window, EndTime=window + 60, TimeRangeType="Arrival")

    assert _refused(raised) == (400, "InvalidRequestException")


def test_paging_by_end_time_returns_every_trace_exactly_once(xray):
    """Paging a Service range, whose times are not whole seconds, neither repeats nor skips."""
    window = new_window()
    docs = [
        segment(new_trace_id(window + 10 * i), start=window + 10 * i + 0.25, duration=0.749_996)
        for i in range(150)
    ]
    _put(xray, *docs)

    found = summaries(xray, StartTime=window, EndTime=window + 3_600, TimeRangeType="Service")

    assert _ids(found) == [doc["trace_id"] for doc in reversed(docs)]
