"""A bounded first-in, first-out spool on disk for input the pipeline has no room for yet.

A UDP sender cannot be told to slow down or to resend: what the collector does not take is gone.
When the pipeline's feed is full, the receiving thread writes each batch of framed documents to a
spool instead, and the pipeline reads them back, oldest first, as soon as it has room. Writing a
batch costs a few microseconds per document, so reading the socket keeps pace with bursts several
times what the pipeline can process, and the backlog waits in files under the data directory
rather than in memory or in the socket buffer (which holds a fraction of a second). OTLP export
requests that arrive while translation is behind are spooled the same way, whole. A spool is
bounded by bytes; once it is full, its receiver refuses or stops reading as it would without one.

Files are ``<sequence>.spool``, each a run of records: a header (payload length, item count,
CRC-32 of both and of the payload) and the payload, one batch of byte strings encoded as a msgpack
array. A file read whole is deleted once its reader says what it took is stored (``release``):
a crash in between reads it again at the next start. Records are buffered up to
:data:`WRITE_CHUNK` before they are written, so the writing thread gives up the GIL once per
chunk rather than once per batch; a caller that acknowledges what it spools (OTLP) has each
batch written at once instead.
What is written survives a crash or a restart and is read first when the collector starts again.
A damaged record met while reading costs the rest of its file, and the items lost are counted; a
record a crash cut short, found at start-up, is cut off and logged with its size.
"""

import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from fluoroscope.telemetry import Registry

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<III")  # payload bytes, items, CRC-32 of both counts and the payload
_COUNTS = struct.Struct("<II")  # the header's first two fields, as the checksum covers them
# Buffered records are written once they reach this size (or when the reader needs them).
WRITE_CHUNK = 1 << 20
# A file is closed for writing at this size (and deleted once what was read from it is stored).
FILE_BYTES = 64 << 20
# One read takes about this much, so a read gives up the GIL rarely.
READ_CHUNK = 1 << 20
_SUFFIX = ".spool"
# After a failed write (a full disk, say), the spool refuses batches for this long before it
# tries again: its callers then behave as without a spool, rather than lose every batch.
WRITE_RETRY_S = 1.0
# Where the reading stood in the oldest file when the collector stopped.
_POSITION = "read-position"


@dataclass(slots=True)
class _File:
    path: Path
    size: int = 0  # bytes written to it
    items: int = 0  # items in those bytes


def _record(items: list[bytes], payload: bytes) -> bytes:
    checksum = zlib.crc32(payload, zlib.crc32(_COUNTS.pack(len(payload), len(items))))
    return _HEADER.pack(len(payload), len(items), checksum) + payload


def _read_position(path: Path) -> tuple[int, int]:
    """(file sequence, offset) saved at the last stop, or (0, 0)."""
    try:
        sequence, offset = path.read_text().split()
        return int(sequence), int(offset)
    except (OSError, ValueError):
        return 0, 0


def _read_intact(fd: int, offset: int, limit: int, want: int) -> tuple[bytes, int, int]:
    """Read about ``want`` bytes at ``offset`` (of ``limit`` left in the file): the chunk, how
    many leading bytes of it are intact records, and their items; no intact bytes means a
    damaged record stands at ``offset``. A first record longer than ``want`` is read whole."""
    chunk = os.pread(fd, min(want, limit), offset)
    intact, items, need = _checked(chunk, limit)
    if intact == 0 and need:
        chunk = os.pread(fd, need, offset)
        intact, items, need = _checked(chunk, limit)
    return chunk, intact, items


def _checked(chunk: bytes, limit: int) -> tuple[int, int, int]:
    """Walk the records of ``chunk``: (bytes of intact records, their items, need).

    ``need`` is 0 when the walk ended at a damaged record (or at the end of ``chunk`` after
    intact ones), else the bytes one whole first record takes, which ``chunk`` lacks; a record
    reaching past ``limit`` (the file's size) is damaged.
    """
    offset = items = 0
    view = memoryview(chunk)
    while offset + _HEADER.size <= len(chunk):
        length, count, crc = _HEADER.unpack_from(chunk, offset)
        end = offset + _HEADER.size + length
        if end > limit:
            return offset, items, 0
        if end > len(chunk):
            return offset, items, (end - offset if offset == 0 else 0)
        counts = chunk[offset : offset + _COUNTS.size]
        if zlib.crc32(view[offset + _HEADER.size : end], zlib.crc32(counts)) != crc:
            return offset, items, 0
        items += count
        offset = end
    need = _HEADER.size if offset == 0 and offset < limit else 0
    return offset, items, need


class Spool:
    """Batches of byte strings on disk, read back in the order they were written.

    ``append`` and ``take`` may be called from different threads (for UDP, the receiver's and
    the pipeline's); a lock covers the files and the counts, never an encode or a decode.
    ``name`` labels its metrics (``udp``, ``otlp``); the collector reports the depths.
    """

    def __init__(self, directory: Path, max_bytes: int, registry: Registry, name: str) -> None:
        self._directory = directory
        self.name = name
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._files: list[_File] = []  # oldest first; the newest is the one written to
        self._write_fd: int | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._buffered_items = 0
        self._read_fd: int | None = None
        # Files read whole, each with its number in the order they were: deleted only once the
        # reader says what it took from them is stored (release), since a crash in between
        # would lose it. The next start reads what is left of them again.
        self._finished: list[tuple[int, Path]] = []
        self._finished_count = 0
        self._read_offset = 0
        self._read_items = 0
        self._items = 0
        self._bytes = 0
        self._next_sequence = 1
        self._failing = False  # the last write failed (logged once a streak)
        self._retry_at = 0.0  # while failing, when to try writing again
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(list[bytes]).decode
        self._spooled = registry.counter(
            "fluoroscope_spool_items_written",
            "UDP documents or OTLP requests written to a disk spool while the pipeline was behind",
            ("spool",),
        ).child(name)
        lost = registry.counter(
            "fluoroscope_spool_items_lost",
            "Spooled items lost to a damaged record or a failed write, by spool and reason",
            ("spool", "reason"),
        )
        self._damaged = lost.child(name, "damaged")
        self._write_failed = lost.child(name, "write_failed")

    @property
    def depth(self) -> int:
        """Items waiting, buffered or on disk."""
        return self._items

    @property
    def depth_bytes(self) -> int:
        """Bytes waiting, buffered or on disk."""
        return self._bytes

    def open(self) -> int:
        """Find what an earlier run left; return how many items wait in it."""
        self._directory.mkdir(parents=True, exist_ok=True)
        found = sorted(
            (int(path.stem), path)
            for path in self._directory.glob(f"*{_SUFFIX}")
            if path.stem.isdigit()
        )
        position = self._directory / _POSITION
        read_sequence, read_offset = _read_position(position)
        position.unlink(missing_ok=True)
        with self._lock:
            for sequence, path in found:
                self._next_sequence = sequence + 1
                start = read_offset if sequence == read_sequence and not self._files else 0
                kept = self._recover(path, start)
                if kept.items == 0:
                    path.unlink(missing_ok=True)
                    continue
                if not self._files:
                    self._read_offset = start
                self._files.append(kept)
                self._items += kept.items
                self._bytes += kept.size - start
            return self._items

    def _recover(self, path: Path, start: int) -> _File:
        """A file's intact records from ``start``; what follows a damaged one is cut off.

        Read a chunk at a time, so a restart with a full spool costs no more memory than
        reading it does.
        """
        items = 0
        with path.open("r+b") as file:
            fd = file.fileno()
            size = os.fstat(fd).st_size
            offset = min(start, size)
            while offset < size:
                _, intact, found = _read_intact(fd, offset, size - offset, READ_CHUNK)
                if intact == 0:
                    break
                offset += intact
                items += found
            if offset < size:
                # A record a crash cut short, or damage: how many items it held is unknown.
                cut = size - offset
                log.warning("%s: %d bytes after the last intact record cut off", path, cut)
                file.truncate(offset)
        return _File(path, offset, items)

    def append(self, items: list[bytes], *, written: bool = False) -> bool:
        """Add a batch behind everything spooled; False if the spool is full, or its last write
        failed less than :data:`WRITE_RETRY_S` ago. ``written``: write it to its file before
        returning, rather than buffer it, for a caller that acknowledges it at once (the
        page cache keeps it through a crash of the process, not of the machine)."""
        if self._failing and time.monotonic() < self._retry_at:
            return False
        record = _record(items, self._encode(items))
        with self._lock:
            if self._bytes + len(record) > self.max_bytes:
                return False
            self._buffer.append(record)
            self._buffered += len(record)
            self._buffered_items += len(items)
            self._items += len(items)
            self._bytes += len(record)
            if written or self._buffered >= WRITE_CHUNK:
                self._write_buffer()
                if written and self._failing:  # the write failed and was counted
                    return False
        self._spooled.inc(len(items))
        return True

    def take(self, max_bytes: int) -> list[list[bytes]]:
        """The oldest batches, about ``max_bytes`` of them; empty when nothing waits."""
        with self._lock:
            chunk = self._read(max(max_bytes, READ_CHUNK)) if self._items else b""
            if self._items == 0 and not self._buffer:
                self._remove_files()
        batches: list[list[bytes]] = []
        offset = 0
        view = memoryview(chunk)
        while offset < len(chunk):
            length, count, _ = _HEADER.unpack_from(chunk, offset)
            start = offset + _HEADER.size
            offset = start + length
            try:
                batches.append(self._decode(view[start:offset]))
            except msgspec.DecodeError:  # intact as written, yet not ours: counted, skipped
                self._damaged.inc(count)
        return batches

    def mark(self) -> int:
        """Where the reading stands, for :meth:`release` once what was taken so far is stored."""
        with self._lock:
            return self._finished_count

    def release(self, mark: int) -> None:
        """What was taken before ``mark`` is stored: delete the files it came from."""
        with self._lock:
            done = [path for number, path in self._finished if number <= mark]
            self._finished = [(n, path) for n, path in self._finished if n > mark]
        for path in done:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Write what is buffered and close the files; what waits is read at the next start.

        How far the oldest file was read is saved beside it, so that the next start begins
        there. After a crash, with no such record, the oldest file is read again from its
        start: items may come twice (the assembler keeps the last copy of each document), never
        not at all.
        """
        with self._lock:
            self._write_buffer()
            self._close_fds()
            if self._items == 0:
                self._remove_files()
            elif self._read_offset:
                position = self._directory / _POSITION
                partial = position.with_suffix(".partial")
                partial.write_text(f"{self._files[0].path.stem} {self._read_offset}\n")
                partial.replace(position)
        self.release(self._finished_count)  # closed after the store: all taken was stored

    def _write_buffer(self) -> None:
        """Write the buffered records to the newest file (lock held)."""
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        items = self._buffered_items
        self._buffer.clear()
        self._buffered = self._buffered_items = 0
        written = 0
        try:
            if self._write_fd is None or self._files[-1].size >= FILE_BYTES:
                self._start_file()
            assert self._write_fd is not None
            written = os.write(self._write_fd, data)
            if written < len(data):
                raise OSError(f"only {written} of {len(data)} bytes written (disk full?)")
        except OSError as exc:
            if written and self._write_fd is not None:  # never leave half a record behind
                os.ftruncate(self._write_fd, self._files[-1].size)
            self._items -= items
            self._bytes -= len(data)
            self._write_failed.inc(items)
            if not self._failing:  # once a streak: a full disk fails every write
                log.warning("cannot write to the spool (%s); refusing batches for a while", exc)
            self._failing = True
            self._retry_at = time.monotonic() + WRITE_RETRY_S
            return
        if self._failing:
            log.warning("writing to the spool again")
            self._failing = False
        newest = self._files[-1]
        newest.size += written
        newest.items += items

    def _start_file(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        path = self._directory / f"{self._next_sequence:012d}{_SUFFIX}"
        self._next_sequence += 1
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._files.append(_File(path))

    def _read(self, want: int) -> bytes:
        """Intact records from the oldest file, about ``want`` bytes of them (lock held)."""
        while self._files or self._buffer:
            if not self._files:
                self._write_buffer()  # everything waiting is buffered: write it to read it
                continue
            oldest = self._files[0]
            writing = self._write_fd is not None and oldest is self._files[-1]
            if self._read_offset >= oldest.size:
                if writing:
                    if not self._buffer:
                        return b""
                    self._write_buffer()  # the reader caught up: take what is buffered
                    continue
                self._finish_oldest()
                continue
            if self._read_fd is None:
                self._read_fd = os.open(oldest.path, os.O_RDONLY)
            limit = oldest.size - self._read_offset
            chunk, intact, items = _read_intact(self._read_fd, self._read_offset, limit, want)
            if intact:
                self._read_offset += intact
                self._read_items += items
                self._items -= items
                self._bytes -= intact
                return chunk[:intact]
            self._finish_oldest()  # damaged where the reading stands: give up on the file
        return b""

    def _finish_oldest(self) -> None:
        """Drop the oldest file, counting what was not read from it as lost (lock held)."""
        oldest = self._files.pop(0)
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None
        if not self._files and self._write_fd is not None:  # it was the one written to
            os.close(self._write_fd)
            self._write_fd = None
        unread = oldest.items - self._read_items
        if unread > 0:
            log.warning("%s: a damaged record; %d spooled items lost", oldest.path, unread)
            self._damaged.inc(unread)
            self._items -= unread
        self._bytes -= oldest.size - self._read_offset
        self._read_offset = self._read_items = 0
        self._retire(oldest.path)

    def _retire(self, path: Path) -> None:
        """A file read whole waits for :meth:`release` (lock held)."""
        self._finished_count += 1
        self._finished.append((self._finished_count, path))

    def _close_fds(self) -> None:
        for fd in (self._write_fd, self._read_fd):
            if fd is not None:
                os.close(fd)
        self._write_fd = self._read_fd = None

    def _remove_files(self) -> None:
        """Empty: retire every file, so an idle spool soon takes no disk (lock held)."""
        if not self._files:
            return
        self._close_fds()
        for file in self._files:
            self._retire(file.path)
        self._files.clear()
        self._read_offset = self._read_items = 0
