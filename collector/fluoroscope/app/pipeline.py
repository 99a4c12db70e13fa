"""The pipeline thread: feed → parse and validate → assemble → hand batches to the writer.

One thread owns the assembler, so traces need no locks; the store's writer thread commits
each batch while this thread already works on the next one.

Every flush interval, every changed trace is written. In between, every
:data:`READY_FLUSH_INTERVAL_S`, the traces whose entry segment has arrived closed are written
on their own. How long a flush and its transaction take grows with what accumulated since the
last one, so small, frequent writes of finished traces keep the time to queryable short under
load, while traces that are still filling in are not rewritten more often.

A flush whose summaries went to helper processes is written when they answer (the assembler's
deferred flushes); meanwhile this thread parses and assembles what comes next, and a flush
that falls due while two such batches wait is made once the older one is written.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from fluoroscope.app.feed import Ack, DocumentBatch, Feed, RawBatch
from fluoroscope.assembly.assembler import Assembler
from fluoroscope.errors import DocumentError, StoreError
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Flush early when this many unwritten bytes are held, to bound memory between flushes. While
# the helpers are behind, documents gather here and flushes grow, which costs memory and saves
# CPU: at 20,000 segments/s, 3 MiB was no faster than waiting for every flush, and 8 MiB no
# faster than 5 MiB but 20-25 MiB larger (RSS 182-187 MiB against 158-160 MiB; README).
FLUSH_AT_PENDING_BYTES = 5 << 20
# After the store refused a batch, wait this long before trying again.
STORE_RETRY_S = 1.0
# How often traces whose entry segment arrived closed are written, between full flushes.
READY_FLUSH_INTERVAL_S = 0.05
# While helper processes summarise a flush, how often an idle pipeline looks for their results.
COLLECT_POLL_S = 0.005


class Pipeline:
    """Drains the feed into the assembler and flushes trace revisions on a fixed interval."""

    def __init__(
        self,
        feed: Feed,
        assembler: Assembler,
        registry: Registry,
        *,
        flush_interval_s: float,
        now: Callable[[], float] = time.time,
        export: Callable[[list[bytes]], None] | None = None,
    ) -> None:
        self._feed = feed
        self._assembler = assembler
        self._flush_interval = flush_interval_s
        self._ready_interval = min(flush_interval_s, READY_FLUSH_INTERVAL_S)
        # Receives each committed batch's documents (from the writer thread).
        self._export = export
        self._now = now
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._acks: list[tuple[Ack, list[tuple[str, str, str]]]] = []
        self._refused = registry.counter(
            "fluoroscope_documents_refused",
            "Documents refused as invalid, by source and X-Ray error code",
            ("source", "code"),
        )
        self._accepted = registry.counter(
            "fluoroscope_documents_accepted",
            "Valid documents passed to assembly, by source",
            ("source",),
        )
        self._internal_errors = registry.counter(
            "fluoroscope_pipeline_batches_failed",
            "Batches or flushes dropped by an unexpected error in the pipeline (a bug; see logs)",
        ).child()

    def start(self) -> None:
        """Start the pipeline thread."""
        self._worker = threading.Thread(target=self._run, name="fluoroscope-pipeline", daemon=True)
        self._worker.start()

    @property
    def alive(self) -> bool:
        """Whether the pipeline thread is running."""
        return self._worker is not None and self._worker.is_alive()

    def stop(self, timeout: float) -> None:
        """Process everything already fed, hand it to the writer, and stop; idempotent."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.error("the pipeline did not drain within %.1f s", timeout)

    def _run(self) -> None:
        assembler = self._assembler
        next_flush = self._now() + self._flush_interval
        next_ready = self._now() + self._ready_interval
        while True:
            stopping = self._stop.is_set()
            due = min(next_flush, next_ready) if assembler.ready else next_flush
            wait = 0.0 if stopping else max(0.0, due - self._now())
            if assembler.waiting:
                wait = min(wait, COLLECT_POLL_S)
            for batch in self._feed.take(wait):
                try:
                    self._process(batch)
                except Exception:  # a bug must cost one batch, never the pipeline
                    log.exception("dropping a batch of %s documents", batch.source)
                    self._internal_errors.inc()
                if assembler.waiting:
                    self._collect()
                now = self._now()
                if assembler.pending_bytes >= FLUSH_AT_PENDING_BYTES or (
                    now >= next_flush and not assembler.busy
                ):
                    next_flush = self._flush()
                    next_ready = self._now() + self._ready_interval
                elif (
                    now >= next_ready and assembler.ready and not self._acks and not assembler.busy
                ):
                    # (with acknowledgements waiting, a full flush follows this loop anyway)
                    next_ready = self._flush(ready_only=True)
            if assembler.waiting:
                self._collect()
            now = self._now()
            if assembler.busy and not stopping:
                # A flush is due once the helpers have summarised the oldest waiting one:
                # until then, this thread takes documents rather than wait for them.
                continue
            if self._acks or now >= next_flush or stopping:
                # At shutdown, traces waiting for a sampling decision are decided now.
                next_flush = self._flush(final=stopping and self._feed.depth == 0)
                next_ready = self._now() + self._ready_interval
            elif now >= next_ready and assembler.ready:
                next_ready = self._flush(ready_only=True)
            if stopping and self._feed.depth == 0 and assembler.dirty == 0:
                # depth counts whole batches, so 0 means nothing is left to take
                return

    def _process(self, batch: RawBatch | DocumentBatch) -> None:
        add = self._assembler.add
        if isinstance(batch, RawBatch):
            accepted = 0
            for raw in batch.documents:
                try:
                    documents = parse_document(raw)
                except DocumentError as exc:
                    self._refused.child(batch.source, exc.code).inc()
                    continue
                # A datagram holds one document (or an array of subsegments, refused or kept
                # together: they share a trace); it is counted once, as the API counts it.
                code = None
                for document in documents:
                    code = add(document) or code
                if code is None:
                    accepted += 1
                else:
                    self._refused.child(batch.source, code).inc()
            self._accepted.child(batch.source).inc(accepted)
            return
        refusals = batch.refusals
        for document in batch.documents:
            code = add(document)
            if code is not None:
                self._refused.child(batch.source, code).inc()
                refusals.append((document.id, code, f"the trace is over its size limit ({code})"))
        self._accepted.child(batch.source).inc(len(batch.documents) - len(refusals))
        if batch.ack is not None:
            self._acks.append((batch.ack, refusals))

    def _collect(self) -> None:
        """Write the deferred batches whose summaries are made."""
        if self._guarded(self._assembler.collect):
            self._assembler.evict()

    def _guarded(self, step: Callable[[], _T]) -> _T | None:
        """Run a flush step; what it returned, or None if it failed (logged and handled)."""
        try:
            return step()
        except StoreError as exc:
            # The assembler keeps the changes, and their acknowledgements, for the retry.
            log.error("the store refused a batch, retrying in %.0f s: %s", STORE_RETRY_S, exc)
            self._stop.wait(STORE_RETRY_S)
        except Exception:  # a bug: retrying the same changes would fail again, forever
            log.exception("dropping the changes of a flush that failed")
            self._internal_errors.inc()
            self._assembler.abandon()
            # Not stored: PutTraceSegments callers time out and resend (as after a throttle).
        return None

    def _flush(self, *, final: bool = False, ready_only: bool = False) -> float:
        """Hand what changed (or what is ready) to the writer, then forget what is done.

        Returns when the next flush of the same kind is due. Acknowledgements wait for a full
        flush, which covers every document they are about.
        """
        interval = self._ready_interval if ready_only else self._flush_interval
        acks: list[tuple[Ack, list[tuple[str, str, str]]]] = []
        if not ready_only:
            acks, self._acks = self._acks, []
            # Spool files read whole before this flush held nothing it does not write: they
            # go once it is committed.
            mark = self._feed.spool_mark()
            if mark:
                release = self._feed.release_spool
                acks.append((lambda _refusals: release(mark), []))
        documents: list[bytes] | None = [] if self._export is not None else None
        export = self._export

        def answer() -> None:
            for ack, refusals in acks:
                ack(refusals)
            if export is not None and documents:
                export(documents)

        on_commit = answer if acks or export is not None else None
        written = self._guarded(
            lambda: self._assembler.flush(
                on_commit,
                documents,
                final=final,
                ready_only=ready_only,
                defer=True,
                acknowledges=bool(acks),
            )
        )
        if written is None:
            return self._now()
        self._assembler.evict()
        return self._now() + interval
