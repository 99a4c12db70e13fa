"""The SQLite trace store: schema, writes, reads, paging and retention."""

import dataclasses
import os
import sqlite3
import threading
import time

import orjson
import pytest

from fluoroscope.errors import StoreError
from fluoroscope.model.summary import summarize
from fluoroscope.model.trace import TraceTree
from fluoroscope.store import checkpointer as checkpointer_module
from fluoroscope.store import retention as retention_module
from fluoroscope.store import summary_codec
from fluoroscope.store.checkpointer import Checkpointer
from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.store.retention import Retention
from fluoroscope.store.schema import MIGRATIONS, migrate
from fluoroscope.store.sqlite import DATABASE_FILE, PAGE_SIZE, WAL_SIZE_LIMIT, connect
from fluoroscope.store.store import Store
from fluoroscope.store.types import SummaryQuery, TimeRange, TraceWrite, record_of, service_rows
from fluoroscope.store.writer import TraceWriter
from fluoroscope.translate.xray_json import parse_document

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
OTHER_TRACE_ID = "1-6b065e19-00000000000000000000beef"
EPOCH = 0x6B065E19
COMMIT_TIMEOUT_S = 5.0


@pytest.fixture
def make_store(tmp_path):
    """Open stores under a temporary data directory; every one is closed afterwards."""
    stores = []

    def make(**options):
        store = Store(tmp_path / "data", **options)
        store.open()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store):
    """One open store."""
    return make_store()


@pytest.fixture(params=["sqlite", "memory"])
def sink(request, make_store):
    """The store, then its in-memory stand-in: both keep the same TraceSink semantics."""
    return make_store() if request.param == "sqlite" else InMemoryTraceSink()


@pytest.fixture
def database(store):
    """A plain read connection to the store's file, for looking at rows."""
    connection = sqlite3.connect(store.path)
    yield connection
    connection.close()


@pytest.fixture
def trace_write(make_document):
    """Build the TraceWrite of a trace made of the given documents (dicts)."""

    def build(
        *documents,
        trace_id=TRACE_ID,
        revision=1,
        rowid=None,
        annotations_changed=True,
        limit_exceeded=False,
    ):
        raws = [orjson.dumps({**document, "trace_id": trace_id}) for document in documents]
        parsed = [d for raw in raws for d in parse_document(raw)]
        summary = summarize(
            trace_id,
            TraceTree([d.view() for d in parsed]),
            revision,
            limit_exceeded=limit_exceeded,
        )
        return TraceWrite(
            record_of(summary, service_rows(summary.facts)),
            [(d.id, d.raw) for d in parsed],
            rowid,
            annotations_changed=annotations_changed,
        )

    return build


def commit(sink, writes, now=float(EPOCH)):
    """Write one batch and wait until it is durable."""
    done = threading.Event()
    sink.write(writes, now, done.set)
    assert done.wait(COMMIT_TIMEOUT_S)


# --- schema ----------------------------------------------------------------------------------


def test_the_store_runs_in_wal_mode(database):
    """Readers never block the writer."""
    (mode,) = database.execute("PRAGMA journal_mode").fetchone()

    assert mode == "wal"


def test_the_writer_waits_for_the_disk_unless_told_not_to(tmp_path):
    """PRAGMA synchronous: NORMAL (1) by default, OFF (0) with sync=False."""
    for sync, expected in ((True, 1), (False, 0)):
        connection = connect(tmp_path / f"{sync}.db", readonly=False, cache_kib=64, sync=sync)
        try:
            assert connection.execute("PRAGMA synchronous").fetchone() == (expected,)
        finally:
            connection.close()


def test_a_wal_grown_by_a_burst_is_cut_back_when_it_starts_again(tmp_path):
    """The WAL file shrinks to WAL_SIZE_LIMIT at the next restart of the log."""
    path = tmp_path / DATABASE_FILE
    writer = connect(path, readonly=False, cache_kib=256)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        limit = writer.execute("PRAGMA journal_size_limit").fetchone()[0]
        writer.execute("CREATE TABLE blobs (data BLOB)")
        writer.execute("BEGIN")
        for _ in range(limit // (1 << 20) + 16):  # a burst past the limit
            writer.execute("INSERT INTO blobs VALUES (zeroblob(1048576))")
        writer.execute("COMMIT")
        wal = path.with_name(path.name + "-wal")
        grown = wal.stat().st_size
        writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        writer.execute("INSERT INTO blobs VALUES (x'00')")  # starts the log again

        assert grown > limit == WAL_SIZE_LIMIT
        assert wal.stat().st_size <= limit
    finally:
        writer.close()


def test_a_new_store_has_pages_of_16_kib(database):
    """Summary rows of a few KiB pack several to a page."""
    (size,) = database.execute("PRAGMA page_size").fetchone()

    assert size == PAGE_SIZE == 16_384


def test_a_store_made_with_4_kib_pages_keeps_them(tmp_path, make_store, trace_write, make_document):
    """An existing database keeps its page size: opening it changes nothing, and it works."""
    path = tmp_path / "data" / DATABASE_FILE
    path.parent.mkdir()
    older = sqlite3.connect(path)
    older.execute("PRAGMA page_size = 4096")
    older.execute("PRAGMA journal_mode = WAL")
    older.close()

    store = make_store()
    commit(store, [trace_write(make_document())])

    (size,) = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()
    assert size == 4096
    assert store.load([TRACE_ID])[TRACE_ID].documents


def test_opening_migrates_to_the_newest_schema(database):
    """user_version counts the migrations applied."""
    (version,) = database.execute("PRAGMA user_version").fetchone()

    assert version == len(MIGRATIONS)


def test_migrating_again_changes_nothing(tmp_path):
    """Migrations are applied once; a second run is a no-op."""
    connection = connect(tmp_path / "db", readonly=False, cache_kib=1024)
    migrate(connection)
    tables = connection.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()

    version = migrate(connection)

    assert version == len(MIGRATIONS)
    assert connection.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall() == (
        tables
    )
    connection.close()


def test_migration_5_drops_stored_statistics_of_inferred_nodes(tmp_path):
    """Inferred nodes are summed from the edges into them, so older rows of their own go."""
    connection = connect(tmp_path / "db", readonly=False, cache_kib=1024)
    migrate(connection, upto=4)
    histogram = ", 0" * 16
    for kind, name, kind_type, inferred in (
        ("n", "orders", "AWS::EC2::Instance", 0),
        ("n", "payments.example.com", "remote", 1),
        ("e", "orders", "AWS::EC2::Instance", 0),
    ):
        for table in ("graph_minutes", "graph_hours"):
            connection.execute(
                f"INSERT INTO {table} VALUES ('', 0, ?, ?, ?, '', ?, '', '', '', 0,"
                f" 1, 0, 0, 0, 1, 0.5{histogram})",
                (kind, name, kind_type, inferred),
            )

    migrate(connection)

    for table in ("graph_minutes", "graph_hours"):
        kept = connection.execute(f"SELECT kind, src_name FROM {table} ORDER BY kind").fetchall()
        assert kept == [("e", "orders"), ("n", "orders")]
    connection.close()


def test_migration_7_finds_each_hours_first_and_last_minute(tmp_path):
    """From the minutes where they are still kept; else the whole hour is assumed."""
    connection = connect(tmp_path / "db", readonly=False, cache_kib=1024)
    migrate(connection, upto=6)
    histogram = ", 0" * 16
    rows = {"graph_minutes": (7260, 7500), "graph_hours": (7200, 10800)}
    for table, minutes in rows.items():
        for minute in minutes:
            connection.execute(
                f"INSERT INTO {table} VALUES ('', ?, 'n', 'orders', '', '', 0, '', '', '', 0,"
                f" 1, 0, 0, 0, 1, 0.5{histogram})",
                (minute,),
            )

    migrate(connection)

    assert connection.execute(
        "SELECT minute, first_minute, last_minute FROM graph_hours ORDER BY minute"
    ).fetchall() == [(7200, 7260, 7500), (10800, 10800, 14340)]
    connection.close()


def test_reopening_a_store_keeps_its_data(make_store, trace_write, make_document):
    """A store opened again over the same directory reads what was written."""
    first = make_store()
    commit(first, [trace_write(make_document())])
    first.close()

    second = make_store()

    assert set(second.load([TRACE_ID])) == {TRACE_ID}


def test_a_data_directory_in_use_is_refused_until_its_store_closes(tmp_path):
    """Two collectors on one directory would hand out the same trace rowids; the second is
    told which process has it."""
    first = Store(tmp_path)
    first.open()
    second = Store(tmp_path)

    with pytest.raises(StoreError, match=rf"in use by another Fluoroscope \(pid {os.getpid()}\)"):
        second.open()

    first.close()
    second.open()
    second.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    """A schema version from a newer Fluoroscope is never guessed at."""
    connection = connect(tmp_path / "db", readonly=False, cache_kib=1024)
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")

    with pytest.raises(StoreError, match="newer"):
        migrate(connection)
    connection.close()


def test_opening_a_newer_database_fails_with_a_store_error(tmp_path):
    """``serve`` stops with one clear message rather than running on a database it misreads."""
    (tmp_path / "data").mkdir()
    connection = sqlite3.connect(tmp_path / "data" / "fluoroscope.db")
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    store = Store(tmp_path / "data")

    with pytest.raises(StoreError, match="schema version"):
        store.open()


# --- checkpoints -----------------------------------------------------------------------------


def test_the_writer_leaves_checkpoints_to_the_checkpoint_thread(store):
    (pages,) = store._writer_connection.execute("PRAGMA wal_autocheckpoint").fetchone()

    assert pages == 0


def test_a_commit_is_copied_into_the_database_by_the_checkpoint_thread(
    store, trace_write, make_document, wait_until
):
    checkpointer = store.checkpointer
    commit(store, [trace_write(make_document())])

    assert wait_until(lambda: checkpointer.passive >= 1)
    assert checkpointer.wal_pages > 0
    assert checkpointer.copied_pages == checkpointer.wal_pages
    assert checkpointer.restarts == 0


def test_a_long_wal_waits_for_the_writer_and_is_started_again(tmp_path, monkeypatch):
    """Past the bound a RESTART checkpoint waits for the transaction in progress, copies it too,
    and the next transaction writes from the WAL's start instead of its end."""
    monkeypatch.setattr(checkpointer_module, "RESTART_PAGES", 1)
    monkeypatch.setattr(checkpointer_module, "RESTART_WAIT_MS", 10_000)
    path = tmp_path / DATABASE_FILE
    writer = connect(path, readonly=False, cache_kib=256)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    migrate(writer)
    checkpointer = Checkpointer(path, sync=True)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO groups VALUES ('held', 'arn:held', NULL, 0, 0, 0)")
        running = threading.Thread(target=checkpointer.checkpoint)
        running.start()
        running.join(0.2)
        assert running.is_alive()  # held back by the open transaction
        writer.execute("COMMIT")
        running.join(5.0)
        assert not running.is_alive()
        assert checkpointer.restarts == 1
        assert checkpointer.copied_pages == checkpointer.wal_pages
        long_wal = checkpointer.wal_pages

        writer.execute("INSERT INTO groups VALUES ('next', 'arn:next', NULL, 0, 0, 0)")
        checkpointer.checkpoint()

        assert 0 < checkpointer.wal_pages < long_wal
    finally:
        checkpointer.stop(1.0)
        writer.close()


def test_a_restart_gives_up_on_a_slow_reader_and_succeeds_after_it(tmp_path, monkeypatch):
    """A reader of an older snapshot holds a RESTART back for a moment only, not the writer."""
    monkeypatch.setattr(checkpointer_module, "RESTART_PAGES", 1)
    path = tmp_path / DATABASE_FILE
    writer = connect(path, readonly=False, cache_kib=256)
    migrate(writer)
    reader = sqlite3.connect(path, isolation_level=None)
    checkpointer = Checkpointer(path, sync=True)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM traces").fetchone()
        writer.execute("INSERT INTO groups VALUES ('late', 'arn:late', NULL, 0, 0, 0)")

        started = time.monotonic()
        checkpointer.checkpoint()

        assert time.monotonic() - started < 10 * checkpointer_module.RESTART_WAIT_MS / 1000
        assert (checkpointer.restarts_blocked, checkpointer.restarts) == (1, 0)
        assert checkpointer.copied_pages < checkpointer.wal_pages  # not past the reader's view
        reader.execute("COMMIT")
        checkpointer.checkpoint()
        assert (checkpointer.restarts_blocked, checkpointer.restarts) == (1, 1)
        assert checkpointer.copied_pages == checkpointer.wal_pages
    finally:
        checkpointer.stop(1.0)
        reader.close()
        writer.close()


def test_the_checkpoint_thread_outlives_a_failed_checkpoint(tmp_path, monkeypatch, wait_until):
    """A checkpoint that raises is counted and tried again; the thread keeps running."""
    monkeypatch.setattr(checkpointer_module, "RETRY_S", 0.01)
    monkeypatch.setattr(checkpointer_module, "INTERVAL_S", 0.01)
    path = tmp_path / DATABASE_FILE
    writer = connect(path, readonly=False, cache_kib=256)
    migrate(writer)
    checkpointer = Checkpointer(path, sync=True)
    works = checkpointer.checkpoint
    failures = iter([RuntimeError("a bug"), sqlite3.OperationalError("disk I/O error")])

    def fail_twice():
        failure = next(failures, None)
        if failure is not None:
            raise failure
        works()

    checkpointer.checkpoint = fail_twice
    checkpointer.start()
    try:
        checkpointer.committed()

        assert wait_until(lambda: checkpointer.passive >= 1)
        assert checkpointer.errors == 2
        assert checkpointer.alive
    finally:
        checkpointer.stop(1.0)
        writer.close()
    assert not checkpointer.alive


# --- writes and loads ------------------------------------------------------------------------


def test_a_written_trace_loads_back(sink, trace_write, make_document):
    """Documents, revision and the limit flag come back as written."""
    root = make_document(id="00000000000000a0")
    sub = make_document(type="subsegment", parent_id="00000000000000a0")
    write = trace_write(root, sub, revision=2, limit_exceeded=True)

    commit(sink, [write])
    loaded = sink.load([TRACE_ID, "1-6b065e19-00000000000000000000beef"])

    (stored,) = loaded.values()
    assert stored.trace_id == TRACE_ID
    assert stored.rowid == write.rowid
    assert stored.revision == 2
    assert stored.limit_exceeded
    assert stored.documents == [raw for _, raw in write.documents]


def test_a_replaced_document_moves_to_the_end_of_arrival_order(sink, trace_write, make_document):
    """Documents come back in the order their current versions arrived."""
    first = make_document(in_progress=True)
    second = make_document()
    write = trace_write(first, second)
    commit(sink, [write])

    closed = {**first, "end_time": first["start_time"] + 2.0}
    commit(sink, [trace_write(closed, revision=2, rowid=write.rowid)])

    (stored,) = sink.load([TRACE_ID]).values()
    assert [orjson.loads(raw)["id"] for raw in stored.documents] == [second["id"], first["id"]]
    assert orjson.loads(stored.documents[-1])["end_time"] == closed["end_time"]
    assert stored.revision == 2


def test_first_writes_get_rowids_in_order(store, trace_write, make_document):
    """``write`` assigns a rowid to every first write before it returns."""
    writes = [trace_write(make_document(), trace_id=f"1-6b065e19-{n:024x}") for n in range(1, 4)]

    commit(store, writes)

    assert [w.rowid for w in writes] == [1, 2, 3]
    assert store.committed_seq == 1


def test_unknown_trace_ids_load_nothing(store):
    """Only stored traces are returned."""
    loaded = store.load(["1-6b065e19-00000000000000000000beef"])

    assert loaded == {}


def test_the_stored_summary_decodes_to_the_written_one(store, make_document, database):
    """The summary column round-trips through its codec."""
    raw = orjson.dumps(
        {**make_document(annotations={"vip": True, "n": 1}, user="alice"), "trace_id": TRACE_ID}
    )
    documents = parse_document(raw)
    summary = summarize(TRACE_ID, TraceTree([d.view() for d in documents]), 1)
    record = record_of(summary, service_rows(summary.facts))
    commit(store, [TraceWrite(record, [(d.id, raw) for d in documents])])

    (stored,) = database.execute("SELECT summary FROM traces").fetchone()

    assert summary_codec.decode(stored) == summary


# --- annotation index ------------------------------------------------------------------------


def test_annotations_are_indexed_by_key_type_and_value(store, trace_write, make_document, database):
    """One row per distinct value, tagged so that true and 1 stay apart."""
    annotations = {"customer": "acme", "count": 3, "vip": True}
    sub = make_document(type="subsegment", parent_id="00000000000000a0", annotations={"vip": 1})
    write = trace_write(make_document(id="00000000000000a0", annotations=annotations), sub)

    commit(store, [write])

    rows = database.execute("SELECT key, vtype, value, trace_rowid FROM annotations").fetchall()
    assert sorted(rows) == [
        ("count", "n", 3.0, write.rowid),
        ("customer", "s", "acme", write.rowid),
        ("vip", "b", 1, write.rowid),
        ("vip", "n", 1.0, write.rowid),
    ]


def test_changed_annotations_replace_the_index_rows(store, trace_write, make_document, database):
    """A revision with other annotations leaves no stale rows behind."""
    document = make_document(annotations={"tier": "gold"})
    first = trace_write(document)
    commit(store, [first])

    commit(store, [trace_write({**document, "annotations": {"tier": "silver"}}, rowid=first.rowid)])

    rows = database.execute("SELECT key, value FROM annotations").fetchall()
    assert rows == [("tier", "silver")]


def test_unchanged_annotations_keep_the_index_rows(store, trace_write, make_document, database):
    """When the annotations did not change, the index is left alone."""
    document = make_document(annotations={"tier": "gold"})
    first = trace_write(document)
    commit(store, [first])

    commit(store, [trace_write(document, rowid=first.rowid, annotations_changed=False)])

    rows = database.execute("SELECT key, value FROM annotations").fetchall()
    assert rows == [("tier", "gold")]


# --- summaries and paging --------------------------------------------------------------------


@pytest.fixture
def seven_traces(store, trace_write, make_document):
    """Seven traces, two of them sharing a start second, written in one batch."""
    seconds = [0, 10, 10, 20, 30, 40, 50]
    writes = []
    for n, offset in enumerate(seconds, start=1):
        trace_id = f"1-{EPOCH + offset:08x}-{n:024x}"
        start = float(EPOCH + offset)
        writes.append(
            trace_write(make_document(start_time=start, end_time=start + 1), trace_id=trace_id)
        )
    commit(store, writes)
    return writes


def test_pages_of_summaries_come_newest_first_with_strictly_decreasing_cursors(store, seven_traces):
    """Each page ends before the previous one, and paging ends."""
    query = SummaryQuery(TimeRange.TRACE_ID, EPOCH, EPOCH + 3600, limit=3)
    pages = [store.reader.summaries(query)]
    while pages[-1].next is not None:
        after = pages[-1].next
        pages.append(store.reader.summaries(dataclasses.replace(query, after=after)))

    keys = [(row.time, row.rowid) for page in pages for row in page.rows]
    cursors = [(page.next.time, page.next.rowid) for page in pages if page.next is not None]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys) == 7
    assert cursors == sorted(set(cursors), reverse=True)
    assert [len(page.rows) for page in pages] == [3, 3, 1]


def test_the_window_is_closed_at_the_start_and_open_at_the_end(store, seven_traces):
    """StartTime <= time < EndTime."""
    query = SummaryQuery(TimeRange.TRACE_ID, EPOCH + 10, EPOCH + 30, limit=100)

    page = store.reader.summaries(query)

    assert sorted(row.time for row in page.rows) == [EPOCH + 10, EPOCH + 10, EPOCH + 20]
    assert page.next is None


def test_summary_rows_carry_the_stored_summary(store, seven_traces):
    """Rows hold the summary in its stored form, which decodes to the written one."""
    query = SummaryQuery(TimeRange.TRACE_ID, EPOCH, EPOCH + 1, limit=10)

    (row,) = store.reader.summaries(query).rows

    assert summary_codec.decode(row.summary) == summary_codec.decode(seven_traces[0].record.summary)


# --- retention -------------------------------------------------------------------------------


def test_retention_deletes_whole_traces_past_the_cutoff(
    store, trace_write, make_document, database
):
    """Old traces lose their row, documents and index rows; newer ones keep everything."""
    old = trace_write(make_document(annotations={"k": "old"}), trace_id=f"1-{EPOCH:08x}-{1:024x}")
    new = trace_write(make_document(annotations={"k": "new"}), trace_id=f"1-{EPOCH:08x}-{2:024x}")
    commit(store, [old], now=1000.0)
    commit(store, [new], now=2000.0)

    deleted = store.retention.delete_expired(1500.0, 100)

    assert deleted == 1
    assert set(store.load([old.record.trace_id, new.record.trace_id])) == {new.record.trace_id}
    assert database.execute("SELECT DISTINCT trace_rowid FROM documents").fetchall() == [
        (new.rowid,)
    ]
    assert database.execute("SELECT key, value FROM annotations").fetchall() == [("k", "new")]


def test_retention_keeps_the_graph_statistics_of_a_kept_trace_sent_late(
    store, trace_write, make_document, database
):
    """Statistics are filed by segment time, traces deleted by when they were written: a
    trace sent ten days late outlives one written before it, and so must its statistics."""
    late_start = EPOCH - 10 * 86_400
    early = trace_write(make_document(), trace_id=f"1-{EPOCH:08x}-{1:024x}")
    late = trace_write(
        make_document(start_time=late_start, end_time=late_start + 1),
        trace_id=f"1-{late_start:08x}-{2:024x}",
    )
    commit(store, [early], now=EPOCH + 100.0)
    commit(store, [late], now=EPOCH + 200.0)
    minute = late_start - late_start % 60
    database.execute(
        "INSERT INTO graph_minutes (grp, minute, kind, src_name, src_type, src_account,"
        " src_inferred, dst_name, dst_type, dst_account, dst_inferred, ok, error, throttle,"
        " fault, total, total_rt) VALUES ('', ?, 'n', 'late', '', '', 0, '', '', '', 0,"
        " 1, 0, 0, 0, 1, 1.0)",
        (minute,),
    )
    database.commit()

    deleted = store.retention.delete_expired(EPOCH + 150.0, 100)

    assert deleted == 1
    assert database.execute("SELECT minute FROM graph_minutes").fetchall() == [(minute,)]


def test_retention_deletes_at_most_the_limit_oldest_first(store, trace_write, make_document):
    """Deletion is chunked, and takes the least recently updated first."""
    writes = [trace_write(make_document(), trace_id=f"1-{EPOCH:08x}-{n:024x}") for n in range(1, 4)]
    for n, write in enumerate(writes):
        commit(store, [write], now=1000.0 + n)

    deleted = store.retention.delete_expired(5000.0, 2)

    assert deleted == 2
    assert set(store.load([w.record.trace_id for w in writes])) == {writes[2].record.trace_id}


def test_retention_with_nothing_expired_deletes_nothing(store, trace_write, make_document):
    """Traces updated after the cutoff stay."""
    commit(store, [trace_write(make_document())], now=1000.0)

    deleted = store.retention.delete_expired(999.0, 100)

    assert deleted == 0
    assert set(store.load([TRACE_ID])) == {TRACE_ID}


def test_retention_runs_between_batches_that_never_stop_coming(
    make_store, trace_write, make_document, clock, wait_until
):
    """A writer that is never idle for a second still deletes what is past its age."""
    store = make_store(retention_s=100.0, now=clock)
    old = trace_write(make_document(), trace_id=f"1-{EPOCH:08x}-{1:024x}")
    commit(store, [old], now=clock())
    clock.advance(200.0)
    fresh = iter(range(2, 10_000))

    def keep_writing() -> bool:
        trace_id = f"1-{EPOCH:08x}-{next(fresh):024x}"
        commit(store, [trace_write(make_document(), trace_id=trace_id)], now=clock())
        return not store.load([old.record.trace_id])

    assert wait_until(keep_writing)
    assert store.retention.expired == 1
    assert store.retention.deleted_for_space == 0


def test_past_the_size_bound_the_least_recently_updated_traces_go(
    make_store, trace_write, make_document, clock, wait_until
):
    """With store.max_bytes, the writer thread deletes whole traces while over the bound."""
    store = make_store(now=clock, max_bytes=1)  # always over: everything goes, in time
    writes = [trace_write(make_document(), trace_id=f"1-{EPOCH:08x}-{n:024x}") for n in (1, 2)]
    for n, write in enumerate(writes):
        commit(store, [write], now=clock() + n)
    ids = [write.record.trace_id for write in writes]
    clock.advance(10.0)

    assert wait_until(lambda: not store.load(ids))
    assert store.retention.deleted_for_space == 2
    assert store.retention.expired == 0


@pytest.fixture
def retention_over_two_traces(tmp_path, trace_write, make_document):
    """Retention over a store of two traces just written, with no writer thread:
    ``(max_bytes, retention_s=1 day, keep_recent_s=0)``."""
    connections = []

    def make(max_bytes, retention_s=86_400.0, keep_recent_s=0.0):
        connection = connect(tmp_path / f"{len(connections)}.db", readonly=False, cache_kib=256)
        connections.append(connection)
        migrate(connection)
        writer = TraceWriter(connection)
        for trace_id in (TRACE_ID, OTHER_TRACE_ID):
            writer.write(
                writer.prepare([trace_write(make_document(), trace_id=trace_id)], time.time())
            )
        return Retention(connection, retention_s, max_bytes=max_bytes, keep_recent_s=keep_recent_s)

    yield make
    for connection in connections:
        connection.close()


@pytest.mark.parametrize(
    ("max_bytes", "deleted", "again_in"),
    [
        (1, 2, retention_module.RETENTION_BUSY_S),
        (1 << 30, 0, retention_module.SIZE_CHECK_INTERVAL_S),
        (None, 0, retention_module.RETENTION_INTERVAL_S),
    ],
    ids=["over the bound", "within the bound", "no bound"],
)
def test_a_retention_pass_deletes_for_space_only_past_the_bound(
    retention_over_two_traces, max_bytes, deleted, again_in
):
    retention = retention_over_two_traces(max_bytes)

    assert retention.expire() == again_in
    assert retention.deleted_for_space == deleted
    assert retention.expired == 0


def test_traces_the_assembler_may_still_hold_are_never_deleted(retention_over_two_traces):
    """Neither for space nor for age: a deleted trace in flight would come back partial."""
    retention = retention_over_two_traces(1, retention_s=0.001, keep_recent_s=3600.0)

    assert retention.expire() == retention_module.SIZE_CHECK_INTERVAL_S
    assert (retention.deleted_for_space, retention.expired) == (0, 0)


def test_deleting_for_space_takes_the_least_recently_updated_and_frees_pages(
    store, trace_write, make_document
):
    writes = [
        trace_write(
            make_document(metadata={"pad": "x" * 8_000}), trace_id=f"1-{EPOCH:08x}-{n:024x}"
        )
        for n in range(1, 41)
    ]
    for n, write in enumerate(writes):
        commit(store, [write], now=1000.0 + n)
    used = store.retention.used_bytes()

    deleted = store.retention.delete_expired(float("inf"), 30)

    assert deleted == 30
    assert set(store.load([w.record.trace_id for w in writes])) == {
        w.record.trace_id for w in writes[30:]
    }
    assert store.retention.used_bytes() < used


def test_a_batch_larger_than_one_statement_is_written_whole(store, trace_write, make_document):
    """Rows go out in multi-row statements of several sizes; none is lost at the seams."""
    writes = [
        trace_write(make_document(annotations={"n": n}), trace_id=f"1-{EPOCH:08x}-{n:024x}")
        for n in range(1, 701)
    ]

    commit(store, writes)

    loaded = store.load([w.record.trace_id for w in writes])
    assert len(loaded) == 700
    assert all(len(stored.documents) == 1 for stored in loaded.values())


def test_a_batch_that_cannot_be_bound_is_dropped_and_writing_goes_on(
    store, trace_write, make_document
):
    """Something other than an SQLite error (a value SQLite cannot take) would fail the same
    batch forever: it is dropped and counted, and the writer takes the next batch."""
    bad = trace_write(make_document())
    columns = list(bad.record.columns)
    columns[7] = 2**64  # http_status, wider than an SQLite INTEGER
    bad.record = bad.record._replace(columns=tuple(columns))
    store.write([bad], float(EPOCH), None)

    commit(store, [trace_write(make_document(), trace_id=OTHER_TRACE_ID)])

    assert store.writer.dropped_batches == 1
    assert store.writer.alive
    assert list(store.load([TRACE_ID, OTHER_TRACE_ID])) == [OTHER_TRACE_ID]
