"""The bounded hand-off from receivers (any thread) to the pipeline (one thread).

Receivers offer whole batches; a batch that does not fit is refused at once, never waited for,
so a receiver's loop never blocks on a slow pipeline. The caller counts what was refused.

Raw batches, whose senders cannot be asked to resend, may overflow into a :class:`Spool` on disk
instead: once anything waits there, later raw batches go there too, behind it, so that they
reach the pipeline in the order they arrived.
"""

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fluoroscope.model.segment import Document
from fluoroscope.store.spool import Spool

# Raw batches go to the spool once this much waits in memory, whatever the feed's own limit:
# the spool holds a backlog for the cost of a write and a read, memory is what a collector
# beside its services is shortest of, and the room above is left to senders that cannot spool.
SPILL_AT_BYTES = 2 << 20

# Called from the pipeline thread once the batch's documents are stored, with the refusals
# the pipeline made after the batch was accepted: (document id, error code, message).
Ack = Callable[[list[tuple[str, str, str]]], None]


@dataclass(slots=True)
class RawBatch:
    """Documents as they came off a socket, not yet parsed."""

    source: str
    documents: list[bytes]
    size: int


@dataclass(slots=True)
class DocumentBatch:
    """Documents already validated by a receiver that had to answer its sender."""

    source: str
    documents: list[Document]
    size: int
    ack: Ack | None = None
    refusals: list[tuple[str, str, str]] = field(default_factory=list)


Batch = RawBatch | DocumentBatch


def _count(batch: Batch) -> int:
    return len(batch.documents)


class Feed:
    """A bounded multi-producer, single-consumer queue of batches."""

    def __init__(
        self, max_documents: int, max_bytes: int, overflow: tuple[str, Spool] | None = None
    ) -> None:
        """``overflow``: the source whose raw batches go to the spool when the feed is full."""
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self._batches: deque[Batch] = deque()
        self._documents = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting = False
        self._closed = False
        self._leave_spooled = False
        self._overflow_source = overflow[0] if overflow is not None else ""
        self._spool: Spool | None = overflow[1] if overflow is not None else None

    def spool_mark(self) -> int:
        """Where the spool's reading stands (see :meth:`Spool.mark`); 0 without a spool."""
        return self._spool.mark() if self._spool is not None else 0

    def release_spool(self, mark: int) -> None:
        """What was taken from the spool before ``mark`` is stored (any thread)."""
        if self._spool is not None:
            self._spool.release(mark)

    @property
    def depth(self) -> int:
        """Documents waiting in memory (not those in the spool)."""
        return self._documents

    @property
    def depth_bytes(self) -> int:
        """Bytes waiting."""
        return self._bytes

    def offer(self, batch: Batch, count: int) -> bool:
        """Queue ``batch`` of ``count`` documents if it fits; False if refused (full or closed).

        A raw batch from the overflow source that does not fit (or finds others in the spool)
        is spooled; it is refused only when the spool is full too.
        """
        spool = self._spool
        if (
            spool is None
            or not isinstance(batch, RawBatch)
            or batch.source != self._overflow_source
        ):
            return self._put(batch, count)
        if spool.depth == 0 and self._put(batch, count, min(self.max_bytes, SPILL_AT_BYTES)):
            return True
        return not self._closed and spool.append(batch.documents)

    def _put(self, batch: Batch, count: int, max_bytes: int | None = None) -> bool:
        """Queue ``batch`` if it fits, or if nothing waits: a batch larger than the limits
        (one big OTLP request, say) would otherwise never get in, and its sender would retry
        it forever. What the feed holds is then at most the limits plus one batch."""
        with self._lock:
            if self._closed or (
                self._batches
                and (
                    self._documents + count > self.max_documents
                    or self._bytes + batch.size
                    > (self.max_bytes if max_bytes is None else max_bytes)
                )
            ):
                return False
            self._batches.append(batch)
            self._documents += count
            self._bytes += batch.size
            if self._waiting:
                self._ready.notify()
        return True

    def take(self, timeout: float, max_bytes: int = 1 << 20) -> list[Batch]:
        """The oldest batches up to about ``max_bytes``, waiting up to ``timeout`` for one.

        Taking a bounded amount keeps the feed's limit meaningful: what the pipeline holds
        beyond the feed is at most one such slice.
        """
        spool = self._spool
        with self._lock:
            # Closed: shutting down, so nothing more is coming to wait for.
            spooled = spool is not None and spool.depth > 0 and not self._leave_spooled
            if not self._batches and timeout > 0 and not self._closed and not spooled:
                self._waiting = True
                self._ready.wait(timeout)
                self._waiting = False
            batches: list[Batch] = []
            size = 0
            while self._batches and size < max_bytes:
                batch = self._batches.popleft()
                batches.append(batch)
                size += batch.size
                self._bytes -= batch.size
                self._documents -= _count(batch)
        if spooled and size < max_bytes:
            # What is in memory arrived before anything spooled (or came from elsewhere).
            assert spool is not None
            for documents in spool.take(max_bytes - size):
                batches.append(RawBatch(self._overflow_source, documents, sum(map(len, documents))))
        return batches

    def leave_spooled(self) -> None:
        """Take nothing more from the spool: shutting down, it is left for the next start."""
        self._leave_spooled = True

    def close(self) -> None:
        """Refuse every later offer (shutdown: receivers are stopping)."""
        with self._lock:
            self._closed = True
            self._leave_spooled = True
            self._ready.notify()
