"""One collector per data directory: an exclusive lock held while the store is open.

Two processes writing one store would each hand out the same trace rowids and read each other's
spool files. The lock is an advisory ``flock`` on a file in the data directory: the kernel
releases it when its holder exits, however it exits, so a crash never leaves it behind. Where
``flock`` does not exist (Windows), nothing is locked.
"""

import os
from pathlib import Path

from fluoroscope.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "fluoroscope.lock"


class DataDirLock:
    """The lock on one data directory; :meth:`acquire` raises StoreError if another holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (creating the file), and note this process's id in it for others."""
        if self._fd is not None or fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"the data directory {self.path.parent} is in use by another Fluoroscope "
                f"(pid {holder}); stop that one, or give this one another --data-dir"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (closing the file releases it); idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
