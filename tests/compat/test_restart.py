"""Stopping a collector with SIGTERM and starting a new one on the same data directory."""

from tests.compat.documents import completed, dumps, folded, segment, subsegment
from tests.compat.queries import (
    get_traces,
    summary_of,
    the_document,
    wait_for_metric,
    wait_for_summary,
    wait_for_traces,
)


def test_stored_traces_are_all_there_after_a_restart(make_collector, make_client, make_recorder):
    """Traces sent over UDP and HTTP before SIGTERM come back unchanged from the next process."""
    first = make_collector()
    client = make_client(first)
    recorder = make_recorder(first)
    trace_ids = []
    for _ in range(3):
        trace_ids.append(recorder.begin_segment("checkout").trace_id)
        recorder.end_segment()
    documents = [segment(name="billing") for _ in range(3)]
    client.put_trace_segments(TraceSegmentDocuments=[dumps(doc) for doc in documents])
    trace_ids += [doc["trace_id"] for doc in documents]
    traces = wait_for_traces(client, trace_ids)
    summaries = {trace_id: summary_of(client, trace_id) for trace_id in trace_ids}

    status = first.stop()
    second = make_collector(data_dir=first.data_dir)
    restarted = make_client(second)

    assert status == 0
    assert get_traces(restarted, trace_ids) == traces
    assert {trace_id: summary_of(restarted, trace_id) for trace_id in trace_ids} == summaries


def test_sigterm_stores_what_was_received_but_not_yet_flushed(make_collector, make_client):
    """Datagrams already taken in are written out on SIGTERM, even between two flushes."""
    first = make_collector(FLUOROSCOPE_STORE_FLUSH_INTERVAL_MS="5000")
    documents = [segment() for _ in range(20)]
    first.send_documents(*documents)
    wait_for_metric(first, "fluoroscope_documents_accepted_total", len(documents), source="udp")

    status = first.stop()
    second = make_collector(data_dir=first.data_dir)

    found = get_traces(make_client(second), [doc["trace_id"] for doc in documents])
    assert status == 0
    assert len(found) == len(documents)


def test_a_late_subsegment_continues_a_trace_from_before_the_restart(make_collector, make_client):
    """A subsegment arriving after the restart is folded in, and the trace's Revision goes up."""
    first = make_collector()
    root = segment()
    trace_id = root["trace_id"]
    first_client = make_client(first)
    first_client.put_trace_segments(TraceSegmentDocuments=[dumps(root)])
    before = wait_for_summary(first_client, trace_id)
    status = first.stop()
    second = make_collector(data_dir=first.data_dir)
    client = make_client(second)
    late = subsegment(root, name="payments.example.com", namespace="remote")

    second.send_documents(late)

    after = wait_for_summary(client, trace_id, until=lambda s: s["Revision"] > before["Revision"])
    document = the_document(get_traces(client, [trace_id])[trace_id])
    assert status == 0
    assert folded(document) == {root["id"]: None, late["id"]: root["id"]}
    assert after["ServiceIds"] == before["ServiceIds"] + [
        {"Name": "payments.example.com", "Names": ["payments.example.com"], "Type": "remote"}
    ]


def test_a_trace_in_progress_before_the_restart_completes_after_it(make_collector, make_client):
    """The completed version sent to the next process closes the trace the first one held."""
    first = make_collector()
    opened = segment(in_progress=True)
    trace_id = opened["trace_id"]
    first.send_documents(opened)
    before = wait_for_summary(make_client(first), trace_id)
    status = first.stop()
    second = make_collector(data_dir=first.data_dir)
    client = make_client(second)
    closed = completed(opened)

    second.send_documents(closed)

    after = wait_for_summary(client, trace_id, until=lambda summary: not summary["IsPartial"])
    assert status == 0
    assert before["IsPartial"] is True
    assert after["Revision"] > before["Revision"]
    assert the_document(get_traces(client, [trace_id])[trace_id]) == closed
