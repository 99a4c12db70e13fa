"""WAL checkpoints on their own thread, so that the writer never waits for them.

Left to itself, SQLite checkpoints inside the commit that takes the WAL past
``wal_autocheckpoint`` pages: the writer copies the WAL into the database and, with
``synchronous = NORMAL``, waits for the disk twice, while batches queue up behind it. Here the
writer's connection has automatic checkpoints off and tells this thread after each commit; a
PASSIVE checkpoint copies what was committed beside the next transaction.

SQLite starts the WAL again from its beginning only when a transaction begins after a
checkpoint that copied everything. A writer that never pauses never gives it that chance, so
past :data:`RESTART_PAGES` this thread runs a RESTART checkpoint instead, which holds the next
transaction back while it copies the little that the PASSIVE ones left. A RESTART also waits for
readers of older snapshots to finish; one slow query must not stop the writer for as long, so it
gives up after :data:`RESTART_WAIT_MS` and tries again at the next checkpoint.
"""

import logging
import sqlite3
import threading
from pathlib import Path

from fluoroscope.store.sqlite import connect

log = logging.getLogger(__name__)

# Commits within this long of a checkpoint wait for the next one, so that a page changed by
# several of them is copied once. 0.25 s holds about as much WAL, at 20,000 segments/s, as
# SQLite's default of 1,000 pages does.
INTERVAL_S = 0.25
# A WAL this long (in pages of the database's page size; 64 MiB at 16 KiB) is started again.
RESTART_PAGES = 4_096
# How long a RESTART checkpoint may wait for the writer's transaction and for readers.
RESTART_WAIT_MS = 250
# After a failed checkpoint the thread waits this long before the next one.
RETRY_S = 1.0
CACHE_KIB = 256


class Checkpointer:
    """Checkpoints the store's WAL after commits, on a thread of its own."""

    def __init__(self, path: Path, *, sync: bool) -> None:
        self._connection = connect(path, readonly=False, cache_kib=CACHE_KIB, sync=sync)
        self._connection.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.passive = 0
        self.restarts = 0
        # RESTART checkpoints that gave up waiting for a reader or the writer.
        self.restarts_blocked = 0
        self.errors = 0
        # Pages in the WAL after the latest checkpoint, and how many of them it had copied.
        self.wal_pages = 0
        self.copied_pages = 0

    def start(self) -> None:
        """Start the checkpoint thread."""
        self._worker = threading.Thread(
            target=self._run, name="fluoroscope-checkpoint", daemon=True
        )
        self._worker.start()

    @property
    def alive(self) -> bool:
        """Whether the checkpoint thread is running."""
        return self._worker is not None and self._worker.is_alive()

    def committed(self) -> None:
        """Tell the thread that a transaction committed (called by the writer thread)."""
        self._committed.set()

    def stop(self, timeout: float) -> None:
        """Stop the thread and close its connection; idempotent."""
        self._stopping.set()
        self._committed.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():  # inside a checkpoint that waits on a lock
                log.warning("the checkpoint thread did not stop within %.0f s", timeout)
                return
            self._worker = None
        self._connection.close()

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint, then a RESTART one if the WAL is still too long."""
        _, self.wal_pages, self.copied_pages = self._run_pragma("PASSIVE")
        self.passive += 1
        if self.wal_pages >= RESTART_PAGES:
            blocked, self.wal_pages, self.copied_pages = self._run_pragma("RESTART")
            if blocked:
                self.restarts_blocked += 1
            else:
                self.restarts += 1

    def _run_pragma(self, mode: str) -> tuple[int, int, int]:
        row = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        busy, pages, copied = row
        return int(busy), int(pages), int(copied)

    def _run(self) -> None:
        while True:
            self._committed.wait()
            if self._stopping.is_set():
                return
            # Let the commits of the next moment join this checkpoint.
            if self._stopping.wait(INTERVAL_S):
                return
            self._committed.clear()
            try:
                self.checkpoint()
            except Exception as exc:  # the WAL would grow without end if this thread stopped
                self.errors += 1
                if isinstance(exc, sqlite3.Error):
                    log.error("WAL checkpoint failed, retrying in %.0f s: %s", RETRY_S, exc)
                else:
                    log.exception("WAL checkpoint failed, retrying in %.0f s", RETRY_S)
                self._committed.set()  # what was committed is still to be copied
                if self._stopping.wait(RETRY_S):
                    return
