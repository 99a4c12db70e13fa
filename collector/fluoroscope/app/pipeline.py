"""The pipeline thread: feed → parse and validate → assemble → store.

One thread does all of it, which makes it the store's single writer: SQLite releases the GIL
while it works, so receivers keep reading sockets during a commit, and a trace written in one
flush is always visible to the next (a late document can never race its trace's write).
"""

import logging
import threading
import time
from collections.abc import Callable

from fluoroscope.app.feed import Ack, Feed, RawBatch, SegmentBatch
from fluoroscope.assembly.assembler import Assembler
from fluoroscope.errors import DocumentError, StoreError
from fluoroscope.store.writer import TraceWriter
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

log = logging.getLogger(__name__)

# Retention runs this often, deleting at most this many traces per pass so that a large
# backlog of expired data never stalls ingest for long.
RETENTION_INTERVAL_S = 60.0
RETENTION_CHUNK = 2_000
# After a failed write, wait this long before trying again (the feed absorbs, then refuses).
STORE_RETRY_S = 1.0
# Flush early when this many unwritten bytes are held, to bound memory between flushes.
FLUSH_AT_PENDING_BYTES = 16 << 20


class Pipeline:
    """Drains the feed into the assembler and flushes trace revisions on a fixed interval."""

    def __init__(
        self,
        feed: Feed,
        assembler: Assembler,
        writer: TraceWriter,
        registry: Registry,
        *,
        flush_interval_s: float,
        retention_s: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._feed = feed
        self._assembler = assembler
        self._writer = writer
        self._flush_interval = flush_interval_s
        self._retention = retention_s
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acks: list[tuple[Ack, list[tuple[str, str, str]]]] = []
        self.healthy = True
        self.last_error: str | None = None
        refused = registry.counter(
            "fluoroscope_documents_refused",
            "Documents refused as invalid, by source and X-Ray error code",
            ("source", "code"),
        )
        self._refused = refused
        self._accepted = registry.counter(
            "fluoroscope_documents_accepted",
            "Valid documents passed to assembly, by source",
            ("source",),
        )
        self._store_errors = registry.counter(
            "fluoroscope_store_errors", "Failed store transactions (retried)"
        ).child()
        self._internal_errors = registry.counter(
            "fluoroscope_pipeline_batches_failed",
            "Batches dropped by an unexpected error in the pipeline (a bug; see logs)",
        ).child()
        self._expired = registry.counter(
            "fluoroscope_store_traces_expired", "Traces deleted by retention"
        ).child()
        self._flush_seconds = registry.counter(
            "fluoroscope_store_flush_microseconds",
            "Time spent writing trace revisions, in microseconds",
        ).child()

    def start(self) -> None:
        """Start the pipeline thread."""
        self._thread = threading.Thread(target=self._run, name="fluoroscope-pipeline", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the pipeline thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float) -> None:
        """Process everything already fed, write it, and stop; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the pipeline did not drain within %.1f s", timeout)

    def _run(self) -> None:
        next_flush = self._now() + self._flush_interval
        next_retention = self._now() + 5.0
        while True:
            stopping = self._stop.is_set()
            wait = 0.0 if stopping else max(0.0, next_flush - self._now())
            for batch in self._feed.take(wait):
                try:
                    self._process(batch)
                except Exception:  # a bug must cost one batch, never the pipeline
                    log.exception("dropping a batch of %s documents", batch.source)
                    self._internal_errors.inc()
                if self._now() >= next_flush or (
                    self._assembler.pending_bytes >= FLUSH_AT_PENDING_BYTES
                ):
                    next_flush = self._flush_and_evict()
            if self._acks or self._now() >= next_flush or stopping:
                next_flush = self._flush_and_evict()
            if stopping and self._feed.depth == 0 and self._assembler.dirty == 0:
                return
            if self._now() >= next_retention:
                next_retention = self._now() + (
                    1.0 if self._expire() == RETENTION_CHUNK else RETENTION_INTERVAL_S
                )

    def _process(self, batch: RawBatch | SegmentBatch) -> None:
        add = self._assembler.add
        if isinstance(batch, RawBatch):
            accepted = 0
            for raw in batch.documents:
                try:
                    views = parse_document(raw)
                except DocumentError as exc:
                    self._refused.child(batch.source, exc.code).inc()
                    continue
                for view in views:
                    add(view)
                accepted += 1
            self._accepted.child(batch.source).inc(accepted)
            return
        refusals = batch.refusals
        for segment in batch.segments:
            code = add(segment)
            if code is not None:
                self._refused.child(batch.source, code).inc()
                refusals.append((segment.id, code, f"the trace is over its size limit ({code})"))
        self._accepted.child(batch.source).inc(len(batch.segments) - len(refusals))
        if batch.ack is not None:
            self._acks.append((batch.ack, refusals))

    def _flush_and_evict(self) -> float:
        """Write what changed, answer waiting senders, forget what is done; next flush time."""
        started = time.perf_counter()
        try:
            self._assembler.flush()
        except StoreError as exc:
            self._store_errors.inc()
            self.healthy = False
            self.last_error = str(exc)
            log.error("store write failed, retrying in %.0f s: %s", STORE_RETRY_S, exc)
            self._stop.wait(STORE_RETRY_S)
            return self._now()
        self._flush_seconds.inc(int((time.perf_counter() - started) * 1e6))
        self.healthy = True
        acks, self._acks = self._acks, []
        for ack, refusals in acks:
            ack(refusals)
        self._assembler.evict()
        return self._now() + self._flush_interval

    def _expire(self) -> int:
        try:
            deleted = self._writer.delete_expired(self._now() - self._retention, RETENTION_CHUNK)
        except StoreError as exc:
            log.error("retention failed: %s", exc)
            return 0
        self._expired.inc(deleted)
        return deleted
