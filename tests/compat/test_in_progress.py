"""In-progress documents over UDP: hand-built, since the Python SDK never sends them."""

import pytest

from tests.compat.documents import completed, segment, subsegment
from tests.compat.queries import (
    settle,
    summary_of,
    the_document,
    wait_for_metric,
    wait_for_summary,
    wait_for_trace,
)


def test_an_in_progress_segment_is_partial_until_it_completes(collector, xray):
    """IsPartial goes from true to false when the completed version arrives; Revision goes up."""
    opened = segment(in_progress=True)
    closed = completed(opened)
    trace_id = opened["trace_id"]

    collector.send_documents(opened)
    partial = wait_for_summary(xray, trace_id)
    collector.send_documents(closed)
    complete = wait_for_summary(xray, trace_id, until=lambda summary: not summary["IsPartial"])

    assert partial["IsPartial"] is True
    assert complete["Revision"] > partial["Revision"]
    assert the_document(wait_for_trace(xray, trace_id)) == closed


def test_an_in_progress_subsegment_keeps_the_trace_partial(collector, xray):
    """A completed segment with an open independent subsegment is partial until it closes."""
    root = segment()
    opened = subsegment(root, name="payments.example.com", namespace="remote", in_progress=True)
    closed = completed(opened)
    trace_id = root["trace_id"]

    collector.send_documents(root, opened)
    partial = wait_for_summary(xray, trace_id, until=lambda summary: summary["Revision"] >= 2)
    collector.send_documents(closed)
    complete = wait_for_summary(xray, trace_id, until=lambda summary: not summary["IsPartial"])

    assert partial["IsPartial"] is True
    assert complete["Revision"] > partial["Revision"]
    assert the_document(wait_for_trace(xray, trace_id))["subsegments"] == [closed]


@pytest.mark.parametrize("linger", ["60", "0"], ids=["held in memory", "evicted from memory"])
def test_a_late_in_progress_copy_does_not_reopen_a_completed_trace(
    make_collector, make_client, linger
):
    """An in-progress copy arriving after the completed one changes nothing, even once evicted."""
    target = make_collector(FLUOROSCOPE_ASSEMBLY_COMPLETE_LINGER_S=linger)
    client = make_client(target)
    opened = segment(in_progress=True)
    closed = completed(opened)
    trace_id = opened["trace_id"]
    target.send_documents(closed)
    before = wait_for_summary(client, trace_id)
    if linger == "0":
        wait_for_metric(target, "fluoroscope_assembly_traces_in_flight", 0)

    target.send_documents(opened)
    settle(target, client)

    after = summary_of(client, trace_id)
    assert after is not None
    assert (after["IsPartial"], after["Revision"]) == (False, before["Revision"])
    assert the_document(wait_for_trace(client, trace_id)) == closed
