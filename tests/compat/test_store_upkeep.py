"""The store's upkeep in a running collector: WAL checkpoints, and deletion past store.max_bytes."""

from tests.compat.queries import eventually, get_traces, wait_for_metric, wait_for_traces

DELETED = "fluoroscope_store_traces_deleted_for_space_total"
WRITTEN = "fluoroscope_store_documents_written_total"
CHECKPOINTS = "fluoroscope_store_checkpoints_total"


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
    # Kept 1.7 s, then found at a size check (every 2 s) between the writer's waits (1 s):
    # close to the usual 5 s on a busy machine.
    wait_for_metric(collector, DELETED, 3, timeout=20.0)
    assert get_traces(client, trace_ids) == {}
    reply = client.get_trace_summaries(StartTime=0, EndTime=4_000_000_000)
    assert reply["TraceSummaries"] == []


def test_commits_are_checkpointed_beside_the_writer(collector, xray, make_recorder):
    """The shared collector copies what it commits into the database on its checkpoint thread."""
    before = collector.metrics().value(CHECKPOINTS)

    trace_ids = _send(make_recorder(collector), 2)
    wait_for_traces(xray, trace_ids)

    eventually(
        lambda: True if collector.metrics().value(CHECKPOINTS) > before else None,
        "a checkpoint after the commit",
    )
    assert collector.metrics().value("fluoroscope_store_checkpoint_errors_total") == 0
    assert collector.get("/healthz")[0] == 200
