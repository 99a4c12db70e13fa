"""``fluoroscope bench query``: fill a store with traces, then time the queries clients make most.

Seeding runs the collector's own ingest code in-process (validation, assembly, summaries, the
store's writer), so the store holds exactly what a running collector would have written, only
faster; it is skipped when the data directory already holds enough traces. The traces end at
times spread evenly over the :data:`SEED_SPAN_S` before now. The queries are then timed against
a collector process started on that directory, over one keep-alive HTTP connection, with
bodies shaped as botocore sends them: GetTraceSummaries for the hour up to the newest trace
(first page), and BatchGetTraces of five stored traces picked at random.
"""

import argparse
import math
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.cli.bench.client import Api, start_collector, timed
from fluoroscope.cli.bench.report import Report, machine, milliseconds
from fluoroscope.cli.bench.segments import DEFAULT_SIZE, HEADER, MAX_SEGMENTS, TraceGenerator
from fluoroscope.store.sqlite import DATABASE_FILE
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

SEED_SPAN_S = 2 * 3600.0
# Traces handed to the store per flush while seeding (the collector flushes every 0.2 s).
FLUSH_EVERY = 5_000
WINDOW_S = 3600
BATCH_IDS = 5
# The generator's sender number for seeded traces (ingest uses 0-64).
SEED_SENDER = 0xFE


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench query``."""
    parser = benches.add_parser(
        "query",
        help="time GetTraceSummaries and BatchGetTraces on a large store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--traces", type=_at_least(1), default=1_000_000, help="traces the store should hold"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the store to use, and keep (default: a temporary directory, removed afterwards)",
    )
    parser.add_argument("--repeat", type=_at_least(1), default=50, help="timed calls per query")
    parser.add_argument(
        "--segments-per-trace",
        type=_at_least(1),
        default=3,
        help=f"segments per seeded trace, 1-{MAX_SEGMENTS}",
    )
    parser.add_argument(
        "--size", type=_at_least(1), default=DEFAULT_SIZE, help="mean document size aimed at"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Seed if needed, then time the queries; 1 if a query came back wrong."""
    if args.segments_per_trace > MAX_SEGMENTS:
        print(f"fluoroscope bench query: at most {MAX_SEGMENTS} segments", file=sys.stderr)
        return 2
    with _data_dir(args.data_dir) as data_dir:
        seeding = _seed(data_dir, args.traces, args.segments_per_trace, args.size)
        store = _survey(data_dir)
        collector = start_collector(data_dir)
        try:
            timings = _time_queries(collector.http, store, args.repeat)
        finally:
            collector.stop()
        size = sum(p.stat().st_size for p in data_dir.glob(DATABASE_FILE + "*"))
    report = Report("fluoroscope bench query")
    report.section("What ran")
    report.row("command", _command(args))
    report.row("machine", machine())
    report.row("store", f"{args.data_dir or 'a temporary directory'}")
    report.section("Store")
    report.row("traces stored", f"{store.traces:,} ({store.documents:,} segment documents)")
    report.row("size on disk", f"{size / (1 << 20):,.0f} MiB (database and write-ahead log)")
    report.row("seeding", seeding.describe())
    report.section(f"Queries over HTTP, {args.repeat} timed calls each after one untimed call")
    report.row(
        "GetTraceSummaries, 1 h, first page",
        f"{milliseconds(timings.summaries, digits=1)} "
        f"({timings.page} summaries; {store.in_window:,} traces in the hour)",
    )
    report.row("BatchGetTraces, 5 random ids", milliseconds(timings.batches, digits=1))
    report.section("Result")
    report.row("verdict", "PASS" if timings.problem is None else f"FAIL: {timings.problem}")
    print(report.render())
    return 0 if timings.problem is None else 1


@contextmanager
def _data_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
        yield Path(scratch)


@dataclass
class _Seeding:
    traces: int
    documents: int
    seconds: float
    had: int

    def describe(self) -> str:
        if not self.traces:
            return f"none: the store already held {self.had:,} traces"
        rate = self.traces / self.seconds
        return (
            f"{self.traces:,} traces in {self.seconds:,.1f} s: {rate:,.0f} traces/s "
            f"({self.documents / self.seconds:,.0f} segments/s), in-process"
        )


def _seed(data_dir: Path, wanted: int, segments: int, size: int) -> _Seeding:
    """Add traces until the store holds ``wanted``, through the collector's ingest code."""
    had = _count(data_dir)
    missing = wanted - had
    if missing <= 0:
        return _Seeding(0, 0, 0.0, had)
    store = Store(data_dir)
    store.open()
    assembler = Assembler(store, Registry(), AssemblyLimits(complete_linger_s=0.0))
    generator = TraceGenerator(SEED_SENDER, segments, size)
    documents = 0
    started = time.perf_counter()
    first = time.time() - SEED_SPAN_S
    step = SEED_SPAN_S / missing
    try:
        for n in range(missing):
            _, datagrams = generator.trace(first + (n + 1) * step)
            for datagram in datagrams:
                for document in parse_document(datagram[len(HEADER) :]):
                    assembler.add(document)
            documents += len(datagrams)
            if n % FLUSH_EVERY == FLUSH_EVERY - 1:
                assembler.flush()
                assembler.evict()
        assembler.flush()
    finally:
        store.close()
    return _Seeding(missing, documents, time.perf_counter() - started, had)


def _count(data_dir: Path) -> int:
    path = data_dir / DATABASE_FILE
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path)) as connection:
        try:
            (count,) = connection.execute("SELECT count(*) FROM traces").fetchone()
        except sqlite3.OperationalError:  # no schema yet
            return 0
    return int(count)


@dataclass
class _Survey:
    traces: int
    documents: int
    window: tuple[int, int]
    in_window: int
    sample: list[str]  # trace ids picked at random, for BatchGetTraces


def _survey(data_dir: Path, sample: int = 5_000) -> _Survey:
    """What the store holds: counts, the hour up to its newest trace, random trace ids."""
    with closing(sqlite3.connect(data_dir / DATABASE_FILE)) as db:
        (traces,) = db.execute("SELECT count(*) FROM traces").fetchone()
        (documents,) = db.execute("SELECT count(*) FROM documents").fetchone()
        (newest, highest) = db.execute("SELECT max(id_time), max(rowid) FROM traces").fetchone()
        end = math.floor(newest or time.time()) + 1
        window = (end - WINDOW_S, end)
        (in_window,) = db.execute(
            "SELECT count(*) FROM traces WHERE id_time BETWEEN ? AND ?", window
        ).fetchone()
        ids: set[str] = set()
        for _ in range(sample * 4):  # rowids may have gaps: bounded retries
            if len(ids) >= min(sample, traces) or not highest:
                break
            row = db.execute(
                "SELECT trace_id FROM traces WHERE rowid = ?", (random.randint(1, highest),)
            ).fetchone()
            if row is not None:
                ids.add(row[0])
    return _Survey(int(traces), int(documents), window, int(in_window), sorted(ids))


@dataclass
class _Timings:
    summaries: list[float]
    page: int
    batches: list[float]
    problem: str | None


def _time_queries(address: tuple[str, int], store: _Survey, repeat: int) -> _Timings:
    api = Api(address)
    start, end = store.window
    # As botocore serialises GetTraceSummaries(StartTime=..., EndTime=...): whole epoch seconds.
    window = {"StartTime": start, "EndTime": end}
    problem = None
    try:
        summaries, reply = timed(repeat, lambda: api.call("/TraceSummaries", window))
        page = len(reply["TraceSummaries"])
        if store.in_window and not page:
            problem = "GetTraceSummaries found nothing in a window that holds traces"

        def batch() -> dict[str, Any]:
            ids = random.sample(store.sample, min(BATCH_IDS, len(store.sample)))
            reply = api.call("/Traces", {"TraceIds": ids})
            nonlocal problem
            if reply["UnprocessedTraceIds"] or len(reply["Traces"]) != len(ids):
                problem = "BatchGetTraces did not return every stored trace asked for"
            return reply

        batches, _ = timed(repeat, batch) if store.sample else ([], {})
    finally:
        api.close()
    return _Timings(summaries, page, batches, problem)


def _command(args: argparse.Namespace) -> str:
    words = f"fluoroscope bench query --traces {args.traces} --repeat {args.repeat}"
    words += f" --segments-per-trace {args.segments_per_trace} --size {args.size}"
    if args.data_dir is not None:
        words += f" --data-dir {args.data_dir}"
    return words


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected at least {low}, not {text}")
        return value

    return parse
