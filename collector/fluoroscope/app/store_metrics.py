"""The store's counters and gauges in /metrics: its writer, retention and WAL checkpoints."""

from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry


def register_store_metrics(registry: Registry, store: Store) -> None:
    """Declare the metrics of an open store, read from it when they are rendered."""
    writer = store.writer
    retention = store.retention
    registry.counter_reader(
        "fluoroscope_store_documents_written",
        "Documents written to the store",
        lambda: writer.documents_written,
    )
    registry.counter_reader(
        "fluoroscope_store_trace_revisions_written",
        "Trace revisions written to the store",
        lambda: writer.traces_written,
    )
    registry.counter_reader(
        "fluoroscope_store_errors", "Failed store transactions (retried)", lambda: writer.errors
    )
    registry.counter_reader(
        "fluoroscope_store_batches_dropped",
        "Store transactions dropped because they could not be written at all (a bug; see logs)",
        lambda: writer.dropped_batches,
    )
    registry.counter_reader(
        "fluoroscope_store_traces_expired",
        "Traces deleted by retention",
        lambda: retention.expired,
    )
    registry.counter_reader(
        "fluoroscope_store_traces_deleted_for_space",
        "Least recently updated traces deleted to keep the store within store.max_bytes",
        lambda: retention.deleted_for_space,
    )
    checkpointer = store.checkpointer
    registry.counter_reader(
        "fluoroscope_store_checkpoints",
        "WAL checkpoints run beside the writer",
        lambda: checkpointer.passive,
    )
    registry.counter_reader(
        "fluoroscope_store_wal_restarts",
        "Checkpoints that held the writer back to start a WAL that grew too long again",
        lambda: checkpointer.restarts,
    )
    registry.counter_reader(
        "fluoroscope_store_wal_restarts_blocked",
        "Restarts of the WAL that gave up waiting for a slow reader (tried again later)",
        lambda: checkpointer.restarts_blocked,
    )
    registry.counter_reader(
        "fluoroscope_store_checkpoint_errors",
        "Failed WAL checkpoints (retried)",
        lambda: checkpointer.errors,
    )
    registry.gauge(
        "fluoroscope_store_wal_pages",
        "Pages in the store's write-ahead log after the latest checkpoint",
        lambda: checkpointer.wal_pages,
    )
