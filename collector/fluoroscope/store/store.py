"""Opening and closing the store: the database file, its schema, the writer and the readers."""

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from fluoroscope.errors import StoreError
from fluoroscope.model.statistics import Contribution
from fluoroscope.store.checkpointer import Checkpointer
from fluoroscope.store.lock import DataDirLock
from fluoroscope.store.reader import TraceReader
from fluoroscope.store.retention import Retention
from fluoroscope.store.schema import migrate
from fluoroscope.store.sqlite import DATABASE_FILE, connect
from fluoroscope.store.types import StoredTrace, TraceWrite
from fluoroscope.store.writer import TraceWriter

# Page cache per connection; both count toward resident memory. The writer's holds the hot
# tail of every index: at 12,000 segments/s its CPU was the same with 8 MiB as with 16, and
# GetTraceSummaries and BatchGetTraces over a million traces were no slower with 4 MiB readers
# than with 8 (bench ingest, bench query); under load the smaller caches save about 15 MiB.
WRITER_CACHE_KIB = 8 * 1024
READER_CACHE_KIB = 4 * 1024


class TraceSink(Protocol):
    """Where the assembler reads earlier state from and writes trace revisions to.

    Called from one thread only. ``write`` sets ``rowid`` on every first write before it
    returns, and returns the batch's sequence number; the batch is durable once
    ``committed_seq`` reaches it, when ``on_commit`` is called (from another thread).
    ``load`` sees every committed batch.
    """

    @property
    def committed_seq(self) -> int:
        """The sequence number of the newest committed batch."""
        ...

    def load(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """The stored state of those of ``trace_ids`` that exist."""
        ...

    def write(
        self,
        writes: Sequence[TraceWrite],
        now: float,
        on_commit: Callable[[], None] | None,
        graph: Contribution | None = None,
    ) -> int:
        """Queue the writes (and graph statistic changes) as one transaction; return its seq."""
        ...


class Store:
    """The database under ``data_dir``: call :meth:`open` first, :meth:`close` last."""

    def __init__(
        self,
        data_dir: Path,
        retention_s: float | None = None,
        now: Callable[[], float] = time.time,
        *,
        sync: bool = True,
        max_bytes: int | None = None,
        keep_recent_s: float = 0.0,
    ) -> None:
        """``sync``: wait for the disk at checkpoints (see the ``store.sync`` option);
        ``max_bytes``: delete the oldest traces past this size (``store.max_bytes``);
        ``keep_recent_s``: never delete traces updated within this long (in flight)."""
        self._max_bytes = max_bytes
        self._keep_recent_s = keep_recent_s
        self.path = data_dir / DATABASE_FILE
        self._retention_s = retention_s
        self._sync = sync
        self._now = now
        self._writer_connection: sqlite3.Connection | None = None
        self._writer: TraceWriter | None = None
        self._checkpointer: Checkpointer | None = None
        self._inode = 0
        self.reader = TraceReader(self.path, READER_CACHE_KIB)
        self._lock = DataDirLock(data_dir)

    def open(self) -> None:
        """Lock the data directory, create it and the database if needed, migrate, and start
        the writer. Raises StoreError, also when another process has the directory open."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except OSError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc
        try:
            connection = connect(
                self.path, readonly=False, cache_kib=WRITER_CACHE_KIB, sync=self._sync
            )
            migrate(connection)
            # The checkpointer's thread copies the WAL into the database instead.
            connection.execute("PRAGMA wal_autocheckpoint = 0")
            checkpointer = Checkpointer(self.path, sync=self._sync)
            retention = Retention(
                connection,
                self._retention_s,
                self._now,
                max_bytes=self._max_bytes,
                keep_recent_s=self._keep_recent_s,
            )
            writer = TraceWriter(connection, retention, self._now, checkpointer.committed)
        except (OSError, sqlite3.Error, StoreError) as exc:
            self._lock.release()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc
        self._writer_connection = connection
        self._writer = writer
        self._inode = os.stat(self.path).st_ino
        self._checkpointer = checkpointer
        checkpointer.start()
        writer.start()

    @property
    def writer(self) -> TraceWriter:
        """The single writer."""
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    @property
    def committed_seq(self) -> int:
        """The newest committed batch (TraceSink)."""
        return self.writer.committed_seq

    @property
    def file_in_place(self) -> bool:
        """Whether the database file is still the one opened: removed or replaced under a
        running collector, what it writes goes to an unlinked file and is lost at the next
        start."""
        try:
            return os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    @property
    def retention(self) -> Retention:
        """What the writer deletes between batches."""
        retention = self.writer.retention
        if retention is None:
            raise StoreError("the store is not open")
        return retention

    @property
    def checkpointer(self) -> Checkpointer:
        """The WAL checkpoint thread."""
        if self._checkpointer is None:
            raise StoreError("the store is not open")
        return self._checkpointer

    def load(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """Committed state of these traces (TraceSink)."""
        return self.reader.traces(trace_ids)

    def write(
        self,
        writes: Sequence[TraceWrite],
        now: float,
        on_commit: Callable[[], None] | None,
        graph: Contribution | None = None,
    ) -> int:
        """Queue one transaction (TraceSink); blocks while the writer is behind."""
        batch = self.writer.prepare(writes, now, graph)
        batch.on_commit = on_commit
        self.writer.submit(batch)
        return batch.seq

    def close(self, timeout: float = 30.0) -> None:
        """Write what was submitted, close the readers and the writer, checkpoint the WAL."""
        if self._writer is not None:
            self._writer.stop(timeout)
        if self._checkpointer is not None:
            self._checkpointer.stop(timeout)
            self._checkpointer = None
        self.reader.close()
        if self._writer_connection is not None:
            # A busy reader only delays the checkpoint to the next open.
            with contextlib.suppress(sqlite3.Error):
                self._writer_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer_connection.close()
            self._writer_connection = None
            self._writer = None
        self._lock.release()
