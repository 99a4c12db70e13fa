"""store.max_bytes: past the bound the least recently updated traces are deleted."""

from tests.compat.queries import get_traces, wait_for_metric

DELETED = "fluoroscope_store_traces_deleted_for_space_total"
WRITTEN = "fluoroscope_store_documents_written_total"


def _send(recorder, count):
    trace_ids = []
    for _ in range(count):
        trace_ids.append(recorder.begin_segment("checkout").trace_id)
        recorder.end_segment()
    return trace_ids


def test_a_store_over_its_bound_deletes_whole_traces(make_collector, make_client, make_recorder):
    """A bound smaller than any store: whatever is written is soon deleted, and counted."""
    # Traces the assembler may still hold are kept: for about 1.7 s with these settings.
    collector = make_collector(
        FLUOROSCOPE_STORE_MAX_BYTES="1", FLUOROSCOPE_ASSEMBLY_IDLE_TIMEOUT_S="0.5"
    )
    client = make_client(collector)

    trace_ids = _send(make_recorder(collector), 3)

    wait_for_metric(collector, WRITTEN, 3)
    wait_for_metric(collector, DELETED, 3)
    assert get_traces(client, trace_ids) == {}
    reply = client.get_trace_summaries(StartTime=0, EndTime=4_000_000_000)
    assert reply["TraceSummaries"] == []
