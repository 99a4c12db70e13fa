"""Opening and closing the store: the database file, its schema, the writer and the readers."""

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from fluoroscope.errors import StoreError
from fluoroscope.store.reader import TraceReader
from fluoroscope.store.schema import migrate
from fluoroscope.store.sqlite import DATABASE_FILE, connect
from fluoroscope.store.types import StoredTrace, TraceWrite
from fluoroscope.store.writer import TraceWriter

# Page cache per connection. The writer's cache holds the hot tail of every index; readers
# need less. Both count toward resident memory.
WRITER_CACHE_KIB = 16 * 1024
READER_CACHE_KIB = 8 * 1024


class TraceSink(Protocol):
    """Where the assembler reads earlier state from and writes trace revisions to.

    Both methods are called from one thread only. ``write`` owns the writes it is given until
    it returns; on success every first write has its ``rowid`` set.
    """

    def load(self, trace_ids: Sequence[str]) -> dict[str, StoredTrace]:
        """The stored state of those of ``trace_ids`` that exist."""
        ...

    def write(self, writes: Sequence[TraceWrite], now: float) -> None:
        """Store the writes atomically, or raise StoreError and store none of them."""
        ...


class Store:
    """The database under ``data_dir``: call :meth:`open` first, :meth:`close` last."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DATABASE_FILE
        self._writer_connection: sqlite3.Connection | None = None
        self._writer: TraceWriter | None = None
        self.reader = TraceReader(self.path, READER_CACHE_KIB)

    def open(self) -> None:
        """Create the directory and database if needed and bring the schema up to date."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = connect(self.path, readonly=False, cache_kib=WRITER_CACHE_KIB)
            migrate(connection)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc
        self._writer_connection = connection
        self._writer = TraceWriter(connection)

    @property
    def writer(self) -> TraceWriter:
        """The single writer; only the pipeline's writer thread may use it."""
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    def close(self) -> None:
        """Close the readers and the writer, checkpointing the WAL into the database."""
        self.reader.close()
        if self._writer_connection is not None:
            try:
                self._writer_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # a busy reader only delays the checkpoint to the next open
            self._writer_connection.close()
            self._writer_connection = None
            self._writer = None
