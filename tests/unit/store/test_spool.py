"""The disk spool: first in, first out, bounded, surviving a restart, never losing count."""

import errno
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluoroscope.app.feed import DocumentBatch, Feed, RawBatch
from fluoroscope.store import spool as spool_module
from fluoroscope.store.spool import Spool
from fluoroscope.telemetry import Registry

LOST = "fluoroscope_spool_items_lost"


def _batch(start: int, count: int = 3) -> list[bytes]:
    return [b'{"id":"%016x"}' % (start + i) for i in range(count)]


def _drain(spool: Spool) -> list[bytes]:
    taken: list[bytes] = []
    while batches := spool.take(1 << 20):
        for batch in batches:
            taken += batch
    return taken


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.spool"))


@pytest.fixture
def small_files(monkeypatch):
    """Files of a few records, writes and reads of one or two, so tests cross boundaries."""
    monkeypatch.setattr(spool_module, "WRITE_CHUNK", 100)
    monkeypatch.setattr(spool_module, "FILE_BYTES", 300)
    monkeypatch.setattr(spool_module, "READ_CHUNK", 50)


def _open(directory: Path, max_bytes: int = 1 << 30) -> tuple[Spool, Registry]:
    registry = Registry()
    spool = Spool(directory, max_bytes, registry, "test")
    spool.open()
    return spool, registry


def test_batches_come_back_in_the_order_they_went_in_across_files(tmp_path, small_files):
    spool, registry = _open(tmp_path)
    sent = [_batch(i * 10) for i in range(40)]

    for batch in sent:
        assert spool.append(batch)
    assert len(_files(tmp_path)) > 2

    assert _drain(spool) == [document for batch in sent for document in batch]
    assert spool.depth == 0
    assert registry.value("fluoroscope_spool_items_written", "test") == 120


def test_an_emptied_spool_leaves_no_files_once_what_it_held_is_stored(tmp_path, small_files):
    spool, _ = _open(tmp_path)
    for i in range(10):
        spool.append(_batch(i * 10))

    _drain(spool)
    assert _files(tmp_path) != []  # read, not yet known to be stored
    spool.release(spool.mark())

    assert _files(tmp_path) == []
    assert spool.take(1 << 20) == []


def test_files_read_whole_but_not_released_are_read_again_after_a_crash(tmp_path, small_files):
    """Reading a file is not storing what it held: a crash in between must not lose it."""
    crashed, _ = _open(tmp_path)
    sent = [_batch(i * 10) for i in range(10)]
    for batch in sent:
        crashed.append(batch)
    crashed.close()  # written out; then read whole by a run that crashes before storing
    crashed, _ = _open(tmp_path)
    mark_before = crashed.mark()
    taken = _drain(crashed)
    crashed.release(mark_before)  # what was stored before the reading: nothing of it

    restarted, _ = _open(tmp_path)

    assert taken == [item for batch in sent for item in batch]
    assert _drain(restarted) == taken


def test_what_is_still_buffered_is_read_once_the_reader_catches_up(tmp_path):
    """A batch smaller than a write chunk is not stranded in memory."""
    spool, _ = _open(tmp_path)

    spool.append(_batch(0))

    assert spool.take(1 << 20) == [_batch(0)]


def test_a_full_spool_refuses_and_takes_again_once_read(tmp_path):
    spool, _ = _open(tmp_path, max_bytes=200)
    assert spool.append(_batch(0))
    assert spool.append(_batch(10))

    refused = spool.append(_batch(20))
    _drain(spool)

    assert not refused
    assert spool.append(_batch(20))


def test_what_waits_at_a_stop_is_read_first_after_the_restart(tmp_path, small_files):
    first, _ = _open(tmp_path)
    for i in range(10):
        first.append(_batch(i * 10))
    taken = first.take(1)
    first.close()

    second, _ = _open(tmp_path)

    assert taken == [_batch(0)]
    assert second.depth == 27
    assert _drain(second) == [document for i in range(1, 10) for document in _batch(i * 10)]


def test_a_record_cut_short_by_a_crash_is_cut_off_at_the_next_start(tmp_path):
    first, _ = _open(tmp_path)
    first.append(_batch(0))
    first.append(_batch(10))
    first.close()
    (path,) = _files(tmp_path)
    os.truncate(path, path.stat().st_size - 5)

    second, _ = _open(tmp_path)

    assert second.depth == 3
    assert _drain(second) == _batch(0)


def test_damage_found_at_start_up_keeps_the_records_before_it(tmp_path, small_files):
    """Read back a chunk at a time; the damaged record and what follows it are cut off."""
    first, _ = _open(tmp_path)
    for i in range(3):
        first.append(_batch(i * 10))
    first.close()
    (path,) = _files(tmp_path)
    data = bytearray(path.read_bytes())
    record = len(data) // 3
    data[record + 20] ^= 0xFF  # inside the second record's payload
    path.write_bytes(bytes(data))

    second, _ = _open(tmp_path)

    assert second.depth == 3
    assert path.stat().st_size == record
    assert _drain(second) == _batch(0)


def test_a_damaged_record_costs_its_file_and_is_counted(tmp_path, small_files):
    """Later files are read as usual; the damaged file's documents are counted as lost."""
    spool, registry = _open(tmp_path)
    for i in range(12):
        spool.append(_batch(i * 10))
    first = _files(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[20] ^= 0xFF  # inside the first record's payload
    first.write_bytes(bytes(data))
    sent = [document for i in range(12) for document in _batch(i * 10)]

    taken = _drain(spool)

    lost = registry.value(LOST, "test", "damaged")
    assert 0 < lost < len(sent)
    assert taken == sent[lost:]
    assert spool.depth == 0


def test_a_failed_write_is_counted_and_the_spool_refuses_for_a_while(tmp_path, monkeypatch):
    """Like a full disk: what failed is counted; batches are refused, then taken again."""
    spool, registry = _open(tmp_path)
    real_write = os.write
    failures = iter([True])

    def write(fd: int, data: bytes) -> int:
        if next(failures, False):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(spool_module.os, "write", write)
    monkeypatch.setattr(spool_module, "WRITE_RETRY_S", 0.05)
    spool.append(_batch(0))

    lost = spool.take(1 << 20)
    refused = not spool.append(_batch(10))
    time.sleep(0.06)
    taken_again = spool.append(_batch(20))

    assert lost == []
    assert registry.value(LOST, "test", "write_failed") == 3
    assert refused
    assert taken_again
    assert spool.take(1 << 20) == [_batch(20)]
    assert spool.depth == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1, max_size=60))
def test_any_interleaving_of_appends_takes_and_restarts_keeps_order(tmp_path_factory, steps):
    """Appends, takes of any size and restarts: every document comes out once, in order."""
    directory = tmp_path_factory.mktemp("spool")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spool_module, "WRITE_CHUNK", 150)
        patch.setattr(spool_module, "FILE_BYTES", 400)
        patch.setattr(spool_module, "READ_CHUNK", 60)
        spool, _ = _open(directory)
        sent: list[bytes] = []
        taken: list[bytes] = []
        for index, (count, restart_or_take) in enumerate(steps):
            batch = _batch(index * 100, count)
            assert spool.append(batch)
            sent += batch
            if restart_or_take and index % 2:
                spool.close()
                spool, _ = _open(directory)
            elif restart_or_take:
                for got in spool.take(1):
                    taken += got
        taken += _drain(spool)
        spool.release(spool.mark())
    assert taken == sent
    assert _files(directory) == []


def test_the_feed_spools_raw_batches_it_has_no_room_for_and_keeps_their_order(tmp_path):
    spool, _ = _open(tmp_path)
    feed = Feed(max_documents=5, max_bytes=1 << 20, overflow=("udp", spool))
    sent = [_batch(i * 10) for i in range(6)]

    accepted = [feed.offer(RawBatch("udp", batch, 60), len(batch)) for batch in sent]

    assert accepted == [True] * 6
    assert feed.depth == 3  # one batch in memory; the second did not fit, and the rest follow it
    assert spool.depth == 15
    taken = feed.take(0.0)
    assert [batch.documents for batch in taken if isinstance(batch, RawBatch)] == sent


def test_the_feed_never_spools_batches_whose_senders_can_retry(tmp_path):
    """The API and OTLP answer their senders: a full feed refuses them, for a retry."""
    spool, _ = _open(tmp_path)
    feed = Feed(max_documents=5, max_bytes=1 << 20, overflow=("udp", spool))
    assert feed.offer(RawBatch("udp", _batch(0, 5), 60), 5)

    refused = feed.offer(DocumentBatch("api", [], 60), 1)

    assert not refused
    assert spool.depth == 0


def test_a_closed_feed_neither_spools_nor_reads_the_spool(tmp_path):
    spool, _ = _open(tmp_path)
    feed = Feed(max_documents=5, max_bytes=1 << 20, overflow=("udp", spool))
    feed.offer(RawBatch("udp", _batch(0, 5), 60), 5)
    feed.offer(RawBatch("udp", _batch(10), 60), 3)

    feed.close()

    assert not feed.offer(RawBatch("udp", _batch(20), 60), 3)
    assert [batch.documents for batch in feed.take(0.0)] == [_batch(0, 5)]
    assert spool.depth == 3


def test_a_batch_appended_as_written_survives_a_crash_at_once(tmp_path):
    """OTLP acknowledges what it spools: it must be in the file, not in the write buffer, when
    append returns. A second spool opened on the files stands for the next start after a
    crash (the first is never closed)."""
    crashed, _ = _open(tmp_path)
    crashed.append([b"buffered"])
    assert crashed.append([b"acknowledged"], written=True)

    restarted, _ = _open(tmp_path)

    assert _drain(restarted) == [b"buffered", b"acknowledged"]


def test_a_buffered_batch_is_written_only_with_the_next_chunk(tmp_path):
    """The UDP receiver's batches are buffered (a crash may lose the last chunk: README)."""
    crashed, _ = _open(tmp_path)
    crashed.append([b"buffered"])

    restarted, _ = _open(tmp_path)

    assert _drain(restarted) == []
