"""``fluoroscope bench query``: fill a store, then time the queries clients make most.

Seeding runs the collector's own ingest code in-process (validation, assembly, the store
writer), so the store holds exactly what a running collector would have written; it is skipped
when the data directory already holds enough traces. The timings are then taken against a real
collector process over HTTP, with requests shaped as botocore sends them.
"""

import argparse
import random
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from fluoroscope.assembly.assembler import Assembler, AssemblyLimits
from fluoroscope.cli.bench.client import Api, start_collector
from fluoroscope.cli.bench.report import print_table
from fluoroscope.cli.bench.segments import HEADER, TraceGenerator
from fluoroscope.store.sqlite import DATABASE_FILE
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

# Seeded traces are spread evenly over this many seconds before now.
SEED_SPAN_S = 6 * 3600.0
FLUSH_EVERY = 5_000


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench query``."""
    parser = benches.add_parser(
        "query", help="time GetTraceSummaries and BatchGetTraces on a large store"
    )
    parser.add_argument("--traces", type=int, default=1_000_000, help="traces to store")
    parser.add_argument(
        "--segments-per-trace", type=int, default=1, help="documents per seeded trace (1-7)"
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="where the store lives")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs of each query")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Seed if needed, then time the queries."""
    stored, seconds = _seed(args.data_dir, args.traces, args.segments_per_trace)
    collector = start_collector(args.data_dir)
    try:
        rows = _measure(collector.http, args.repeat)
    finally:
        collector.stop()
    size = sum(p.stat().st_size for p in args.data_dir.glob(DATABASE_FILE + "*"))
    seeding = f"{stored / seconds:,.0f} traces/s" if seconds else "reused an existing store"
    print_table(
        "fluoroscope bench query",
        [
            ("command", f"fluoroscope bench query --traces {args.traces} "
                        f"--segments-per-trace {args.segments_per_trace} --repeat {args.repeat}"),
            ("traces stored", f"{_count(args.data_dir):,}"),
            ("store size", f"{size / (1 << 20):,.0f} MiB"),
            ("seeding", seeding),
            *rows,
        ],
    )  # fmt: skip
    return 0


def _count(data_dir: Path) -> int:
    path = data_dir / DATABASE_FILE
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute("SELECT count(*) FROM traces").fetchone()
    return int(count)


def _seed(data_dir: Path, traces: int, segments: int) -> tuple[int, float]:
    have = _count(data_dir)
    if have >= traces:
        return 0, 0.0
    store = Store(data_dir)
    store.open()
    assembler = Assembler(store, Registry(), AssemblyLimits(complete_linger_s=0.0))
    generator = TraceGenerator(0xFE, segments, seed=have)
    started = time.perf_counter()
    now = time.time()
    wanted = traces - have
    for n in range(wanted):
        # Newest last, so the most recent hour is as full as any other.
        _, documents = generator.trace(now - SEED_SPAN_S + SEED_SPAN_S * n / wanted)
        for datagram in documents:
            for document in parse_document(datagram[len(HEADER) :]):
                assembler.add(document)
        if n % FLUSH_EVERY == FLUSH_EVERY - 1:
            assembler.flush()
            assembler.evict()
    assembler.flush()
    store.close()
    return wanted, time.perf_counter() - started


def _measure(address: tuple[str, int], repeat: int) -> list[tuple[str, str]]:
    api = Api(address)
    now = time.time()
    window = {"StartTime": now - 3600, "EndTime": now, "TimeRangeType": "TraceId"}
    summaries = []
    first_page = 0
    for _ in range(repeat):
        started = time.perf_counter()
        reply = api.call("/TraceSummaries", window)
        summaries.append(time.perf_counter() - started)
        first_page = len(reply["TraceSummaries"])
    ids = [s["Id"] for s in api.call("/TraceSummaries", window)["TraceSummaries"]]
    batches = []
    for _ in range(repeat):
        sample = random.sample(ids, min(5, len(ids)))
        started = time.perf_counter()
        reply = api.call("/Traces", {"TraceIds": sample})
        batches.append(time.perf_counter() - started)
        if len(reply["Traces"]) != len(sample):
            raise RuntimeError("BatchGetTraces did not find every stored trace")
    api.close()
    return [
        ("GetTraceSummaries, 1 h, first page", _timing(summaries) + f" ({first_page} summaries)"),
        ("BatchGetTraces, 5 traces", _timing(batches)),
    ]


def _timing(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
