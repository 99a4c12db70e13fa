"""Flushes summarised by the helper process are written when it answers; meanwhile the
collector keeps taking documents, and PutTraceSegments still answers only once its documents are
stored."""

from tests.compat.documents import datagram, dumps, new_trace_id, new_window, segment
from tests.compat.queries import eventually, get_traces, wait_for_metric, wait_for_traces

SHARED = "fluoroscope_summary_shared_traces_total"
# Datagrams sent at once: enough closed traces in one flush for the helper to take them (a
# flush of fewer than 64 is summarised on the pipeline thread).
BURST = 300
ROUNDS = 6
PUT_DOCUMENTS = 20


def test_acknowledged_documents_are_stored_while_batches_wait_for_the_helper(
    make_collector, make_client
):
    collector = make_collector()  # one summary helper, as by default with two cores or more
    client = make_client(collector)
    window = new_window()
    sent: list[str] = []

    def burst() -> None:
        trace_ids = [new_trace_id(window + len(sent) * 0.001 + i * 0.001) for i in range(BURST)]
        collector.send(*(datagram(segment(trace_id)) for trace_id in trace_ids))
        sent.extend(trace_ids)

    def helper_took_some() -> float | None:
        burst()
        shared = collector.metrics().value(SHARED)
        return shared or None

    eventually(helper_took_some, "the summary helper to take a flush", timeout=30.0)
    acknowledged: list[str] = []
    for round_ in range(ROUNDS):
        burst()
        trace_ids = [
            new_trace_id(window + 1_800 + round_ * 0.1 + i * 0.001) for i in range(PUT_DOCUMENTS)
        ]
        reply = client.put_trace_segments(
            TraceSegmentDocuments=[dumps(segment(trace_id)) for trace_id in trace_ids]
        )
        assert reply["UnprocessedTraceSegments"] == []
        # No polling: an acknowledged document is in the store.
        assert sorted(get_traces(client, trace_ids)) == sorted(trace_ids)
        acknowledged += trace_ids

    assert len(wait_for_traces(client, sent)) == len(sent)
    assert collector.metrics().value(SHARED) > BURST
    wait_for_metric(collector, "fluoroscope_assembly_batches_waiting", 0)
    wait_for_metric(collector, "fluoroscope_assembly_unwritten_bytes", 0)
    assert len(acknowledged) == ROUNDS * PUT_DOCUMENTS
