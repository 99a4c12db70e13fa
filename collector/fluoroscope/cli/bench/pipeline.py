"""``fluoroscope bench pipeline``: pipeline thread CPU per document, with and without sampling.

The pipeline thread (parse, validate, assemble, summarise, hand to the writer) is what bounds
the UDP ingest rate, so its CPU time per document is the figure to watch. This runs generated
X-Ray documents (``bench ingest``'s generator, sent deepest first) through the collector's own
parse and assembly code into a store on a temporary directory, in flushes of
:data:`FLUSH_EVERY` documents as a busy collector makes them, and measures that thread's CPU.

Two configurations alternate, ``--repeat`` times each: sampling off, and head sampling
(``resample``, by 25 rules: 24 that test service names and URL paths and match none of these
traces, then ``Default`` at rate 1) with tail sampling (three rules, the last keeping every
trace), so that everything is decided and still stored. It prints the medians and what
sampling adds. ``--summary-processes`` shares summaries with helper processes, as the
collector does, and counts only the pipeline thread's CPU.
"""

import argparse
import dataclasses
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.gate import SamplingGate
from fluoroscope.assembly.head_sampling import HeadMode, HeadSampler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.assembly.tail_sampling import TailSampler, parse_rules
from fluoroscope.cli.bench.report import Report, machine
from fluoroscope.cli.bench.segments import HEADER, TraceGenerator
from fluoroscope.runtime import tune_runtime
from fluoroscope.sampling import RuleSet, Sampler, SamplingRule, default_rule
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

# Documents per flush: about what a collector taking 15,000 a second writes every 200 ms.
FLUSH_EVERY = 3_000
HEAD_RULES = 25
HELPER_START_TIMEOUT_S = 60.0
# Tail rules as a deployment might have them: the first two rarely match, the last keeps all.
KEEP_ALL_TAIL_RULES: list[dict[str, Any]] = [
    {"name": "faults", "filter": "fault OR error OR throttle"},
    {"name": "slow", "filter": "responsetime > 5"},
    {"name": "rest", "keep": 1.0},
]


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench pipeline``."""
    parser = benches.add_parser(
        "pipeline",
        help="time the pipeline thread per document, with and without sampling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--traces", type=int, default=20_000, help="traces per run")
    parser.add_argument(
        "--segments-per-trace", type=int, default=3, help="segments (services) per trace"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of each configuration")
    parser.add_argument(
        "--summary-processes",
        type=int,
        default=0,
        help="summary processes beside the pipeline thread, as assembly.summary_processes "
        "(their CPU is not counted)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Alternate the two configurations and report the medians."""
    generator = TraceGenerator(0, args.segments_per_trace, seed=7)
    now = time.time()
    documents = [
        datagram[len(HEADER) :] for _ in range(args.traces) for datagram in generator.trace(now)[1]
    ]
    tune_runtime()  # as serve does: the collector's garbage collection settings
    timings: dict[str, list[float]] = {"off": [], "sampling": []}
    for _ in range(args.repeat):
        for name, runs in timings.items():
            runs.append(_run_once(documents, name == "sampling", args.summary_processes))
    off = statistics.median(timings["off"])
    sampled = statistics.median(timings["sampling"])
    report = Report("fluoroscope bench pipeline")
    report.section("What ran")
    report.row(
        "command",
        f"fluoroscope bench pipeline --traces {args.traces} "
        f"--segments-per-trace {args.segments_per_trace} --repeat {args.repeat} "
        f"--summary-processes {args.summary_processes}",
    )
    report.row("machine", machine())
    report.row("documents per run", f"{len(documents):,} in flushes of {FLUSH_EVERY:,}")
    report.section("Pipeline thread CPU per document (median)")
    report.row("sampling off", f"{off:.1f} us ({1e6 / off:,.0f} documents/s per core)")
    report.row("head and tail sampling", f"{sampled:.1f} us ({1e6 / sampled:,.0f} documents/s)")
    report.row("what sampling adds", f"{sampled - off:.1f} us ({(sampled - off) / off:.1%})")
    report.row("all runs (us)", _runs(timings))
    print(report.render())
    return 0


def _runs(timings: dict[str, list[float]]) -> str:
    return "; ".join(
        f"{name}: {', '.join(f'{value:.1f}' for value in values)}"
        for name, values in timings.items()
    )


def _run_once(documents: list[bytes], sampling: bool, processes: int) -> float:
    """One pass through a fresh store; the pipeline thread's CPU per document (us)."""
    with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
        store = Store(Path(scratch))
        store.open()
        registry = Registry()
        gate = _gate(registry) if sampling else None
        assembler = Assembler(
            store, registry, AssemblyLimits(), gate=gate, summary_processes=processes
        )
        try:
            if processes and not assembler.summaries.warm_up(HELPER_START_TIMEOUT_S):
                raise RuntimeError("the summary processes did not start")
            spent = _feed(documents, assembler.add, assembler)
        finally:
            assembler.summaries.shutdown()
            store.close()
        return spent / len(documents) * 1e6


def _feed(documents: list[bytes], add: Callable[[Any], object], assembler: Assembler) -> float:
    started = time.thread_time()
    for start in range(0, len(documents), FLUSH_EVERY):
        for raw in documents[start : start + FLUSH_EVERY]:
            for document in parse_document(raw):
                add(document)
        assembler.flush()
        assembler.evict()
    assembler.flush(final=True)
    return time.thread_time() - started


def _gate(registry: Registry) -> SamplingGate:
    rules = [
        SamplingRule.from_api(
            {
                "RuleName": f"rule-{number:02d}",
                "Priority": number + 1,
                "FixedRate": 0.5,
                "ReservoirSize": 10,
                "ServiceName": f"service-{number:02d}",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": f"/never/{number}/*",
                "ResourceARN": "*",
                "Version": 1,
            }
        )
        for number in range(HEAD_RULES - 1)
    ]
    # None of the rules matches, so Default decides: at rate 1 it keeps every trace.
    everything = dataclasses.replace(default_rule(), fixed_rate=1.0)
    sampler = Sampler(RuleSet([*rules, everything]), time.time, random.random)
    return SamplingGate(
        registry,
        head=HeadSampler(sampler, HeadMode.RESAMPLE),
        tail=TailSampler(parse_rules(KEEP_ALL_TAIL_RULES)),
    )
