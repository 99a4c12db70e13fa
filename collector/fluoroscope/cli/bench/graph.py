"""``fluoroscope bench graph``: filter expressions and the service graph on a large store.

Seeds (in-process, through the collector's own ingest code) traces spread over
:data:`SPAN_S` across ``--services`` services: each service calls a DynamoDB table of its own
group of ten and one of two downstream services, so the graph has about four edges per
service. Then, against a collector process over HTTP, it times GetTraceSummaries for the last
hour with an annotation equality on a common value, a ``service(...) { fault }`` filter and a
``responsetime > N`` filter (first page each), and GetServiceGraph over the whole span.
"""

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.cli.bench.client import Api, start_collector, timed
from fluoroscope.cli.bench.report import Report, machine, milliseconds
from fluoroscope.store.sqlite import DATABASE_FILE
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

SPAN_S = 6 * 3600
FLUSH_EVERY = 5_000
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench graph``."""
    parser = benches.add_parser(
        "graph",
        help="time filter expressions and GetServiceGraph on a large store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--traces", type=int, default=1_000_000, help="traces to store")
    parser.add_argument("--services", type=int, default=50, help="distinct services")
    parser.add_argument("--data-dir", type=Path, required=True, help="the store (kept)")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per query")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Seed if the store is empty, then time the queries."""
    seeded = _seed(args.data_dir, args.traces, args.services)
    collector = start_collector(args.data_dir)
    try:
        rows = _time(collector.http, args.repeat, args.services)
    finally:
        collector.stop()
    report = Report("fluoroscope bench graph")
    report.section("What ran")
    report.row(
        "command",
        f"fluoroscope bench graph --traces {args.traces} --services {args.services} "
        f"--repeat {args.repeat} --data-dir {args.data_dir}",
    )
    report.row("machine", machine())
    report.row("seeding", seeded)
    report.section(f"Queries over HTTP, {args.repeat} timed calls each")
    for name, value in rows:
        report.row(name, value)
    print(report.render())
    return 0


def _seed(data_dir: Path, traces: int, services: int) -> str:
    if (data_dir / DATABASE_FILE).exists():
        return "reused the store in --data-dir"
    names = [f"svc-{i:02d}" for i in range(services)]
    store = Store(data_dir)
    store.open()
    assembler = Assembler(store, Registry(), AssemblyLimits(complete_linger_s=0.0))
    rng = random.Random(1)
    now = time.time()
    started = time.perf_counter()
    for n in range(traces):
        for document in parse_document(orjson.dumps(_trace(n, names, rng, now, traces))):
            assembler.add(document)
        if n % FLUSH_EVERY == FLUSH_EVERY - 1:
            assembler.flush()
            assembler.evict()
    assembler.flush()
    store.close()
    return f"{traces:,} traces in {time.perf_counter() - started:,.0f} s"


def _trace(n: int, names: list[str], rng: random.Random, now: float, total: int) -> Any:
    start = now - SPAN_S + SPAN_S * n / total
    root = n % len(names)
    downstream = (root + 1 + (n // len(names)) % 2) % len(names)
    status = rng.choice([200] * 17 + [404, 429, 500])
    duration = 0.02 + rng.random() * 0.4
    document: dict[str, Any] = {
        "id": f"{n:012x}0001", "name": names[root], "start_time": start,
        "end_time": start + duration, "trace_id": f"1-{int(start):08x}-{n + 1:024x}",
        "http": {"request": {"url": f"https://{names[root]}.example.com/api/{n % 100}",
                             "method": "POST"}, "response": {"status": status}},
        "annotations": {"customer": rng.choice(CUSTOMERS), "items": n % 10},
        "subsegments": [
            {"id": f"{n:012x}0002", "name": "DynamoDB", "start_time": start + 0.001,
             "end_time": start + 0.004, "namespace": "aws",
             "aws": {"table_name": f"table-{root % 10}"}},
            {"id": f"{n:012x}0003", "name": names[downstream], "start_time": start + 0.005,
             "end_time": start + duration - 0.002, "namespace": "remote"},
        ],
    }  # fmt: skip
    if status >= 500:
        document["fault"] = True
    elif status == 429:
        document["throttle"] = document["error"] = True
    elif status >= 400:
        document["error"] = True
    return document


def _time(address: tuple[str, int], repeat: int, services: int) -> list[tuple[str, str]]:
    api = Api(address)
    now = time.time()
    hour = {"StartTime": now - 3600, "EndTime": now}
    service = f"svc-{3 % services:02d}"
    rows = []
    for label, expression in (
        ("GetTraceSummaries, 1 h, first page", None),
        ('  annotation.customer = "acme"', 'annotation.customer = "acme"'),
        (f'  service("{service}") {{ fault }}', f'service("{service}") {{ fault }}'),
        ("  responsetime > 0.3", "responsetime > 0.3"),
    ):
        body = dict(hour, **({"FilterExpression": expression} if expression else {}))
        samples, reply = timed(repeat, _caller(api, "/TraceSummaries", body))
        found = len(reply["TraceSummaries"])
        rows.append((label, f"{milliseconds(samples, digits=1)} ({found} summaries)"))
    window = {"StartTime": now - SPAN_S, "EndTime": now}
    samples, reply = timed(max(5, repeat // 3), _caller(api, "/ServiceGraph", window))
    nodes = len(reply["Services"])
    edges = sum(len(node["Edges"]) for node in reply["Services"])
    shape = f"({nodes} nodes, {edges} edges)"
    rows.append(("GetServiceGraph, 6 h", f"{milliseconds(samples, digits=1)} {shape}"))
    api.close()
    return rows


def _caller(api: Api, path: str, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: api.call(path, body)
