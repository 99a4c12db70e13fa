"""``fluoroscope bench otlp``: OTLP/gRPC export requests at a fixed rate, and what became of them.

Spans are offered in ``ExportTraceServiceRequest`` batches of ``--batch`` spans, as an
OpenTelemetry SDK or Collector exports them, over the collector's OTLP/gRPC port: traces of a
SERVER span with HTTP attributes and a CLIENT and an INTERNAL child, from a few services. The
requests are serialized before the clock starts (each call only puts fresh ids into one), and a
separate process sends them as unary ``TraceService/Export`` calls paced by batch, without
waiting for answers before the next call is due, so that neither the sender's CPU nor the
collector's answer time sets the offered rate.

Without ``--grpc``/``--endpoint`` it starts its own collector on a temporary data directory and
stops it at the end. It reports the offered and achieved rates, the calls answered, refused
with UNAVAILABLE or RESOURCE_EXHAUSTED (which a sender retries: counted here as not stored) and
failed otherwise, the spans stored (one document each) and lost (with the collector's own counts
of why), the export-call latency, and the memory and CPU of the collector and of its child
processes. The collector answers a call once its spans are stored, so the latency is also the
time from sending to queryable; when calls sent in the last quarter of the run are clearly
slower than the rest, a backlog was growing, and a longer run at that rate would end in calls
given up at their deadline. While translation is behind, the collector instead writes requests
to its disk spool and answers once they are there; the report says how many, and "settled" how
long after the run the last of them was stored. The exit status is 1 when anything was lost or
refused.
"""

import argparse
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluoroscope.cli.bench.arguments import bounded, positive
from fluoroscope.cli.bench.client import (
    Api,
    Metrics,
    inherited_settings,
    parse_address,
    settle,
    start_collector,
)
from fluoroscope.cli.bench.otlp_sender import MAX_IN_FLIGHT, Plan, Result, send
from fluoroscope.cli.bench.probes import ResourceSampler
from fluoroscope.cli.bench.report import Report, machine, milliseconds
from fluoroscope.cli.bench.spans import SERVICES

_RECEIVED = "fluoroscope_otlp_spans_received_total"
_REFUSED = "fluoroscope_otlp_requests_refused_total"
_REJECTED = "fluoroscope_otlp_spans_rejected_total"
_DROPPED = "fluoroscope_assembly_documents_dropped_total"


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench otlp``."""
    parser = benches.add_parser(
        "otlp",
        help="offer OTLP/gRPC export requests; report loss, refusals, latency and memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=positive, default=60_000.0, help="spans offered per second")
    parser.add_argument("--duration", type=positive, default=20.0, help="seconds to offer them for")
    parser.add_argument(
        "--batch", type=bounded(1, 100_000), default=512, help="spans per export request"
    )
    parser.add_argument("--grpc", help="HOST:PORT of a running collector's OTLP/gRPC listener")
    parser.add_argument("--endpoint", help="URL of that collector's HTTP API (with --grpc)")
    parser.add_argument("--pid", type=int, help="that collector's pid, to measure its memory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 when everything was stored, 1 otherwise, 2 on bad arguments."""
    if bool(args.grpc) != bool(args.endpoint):
        print("fluoroscope bench otlp: --grpc and --endpoint go together", file=sys.stderr)
        return 2
    if args.pid is not None and not args.grpc:
        print("fluoroscope bench otlp: --pid is for a running collector", file=sys.stderr)
        return 2
    if args.grpc:
        try:
            target = _target(parse_address(args.grpc))
            http = parse_address(args.endpoint)
        except ValueError as exc:
            print(f"fluoroscope bench otlp: {exc}", file=sys.stderr)
            return 2
        outcome = _measure(args, target, http, args.pid)
        where = f"running at grpc://{args.grpc} and {args.endpoint}"
    else:
        with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
            collector = start_collector(Path(scratch), otlp_grpc=True)
            assert collector.otlp_grpc is not None
            try:
                outcome = _measure(
                    args, _target(collector.otlp_grpc), collector.http, collector.pid
                )
            finally:
                collector.stop()
            where = (
                f"started for this run (pid {collector.pid}), temporary data directory; "
                f"settings from the environment: {inherited_settings()}"
            )
    print(_report(args, where, outcome).render())
    return 0 if outcome.passed else 1


# -- measuring and reporting ------------------------------------------------------------------


@dataclass
class _Outcome:
    result: Result
    request_bytes: float
    delta: Metrics
    stored: float
    settle_seconds: float
    settled: bool
    resources: ResourceSampler

    @property
    def sent(self) -> int:
        return self.result.spans

    @property
    def lost(self) -> float:
        return self.sent - self.stored

    @property
    def passed(self) -> bool:
        r = self.result
        return (
            r.spans > 0
            and self.lost == 0
            and r.refused == 0
            and r.failed_calls == 0
            and r.unanswered == 0
        )


def _measure(
    args: argparse.Namespace, target: str, http: tuple[str, int], pid: int | None
) -> _Outcome:
    api = Api(http)
    plan = Plan(target, args.rate, args.duration, args.batch)
    before = api.metrics()
    resources = ResourceSampler(pid)
    try:
        result = send(plan, on_start=resources.start)
    finally:
        resources.lap()
    stopped = time.monotonic()
    written, settled = settle(api, before, result.spans)
    settle_seconds = time.monotonic() - stopped
    resources.stop()
    delta = api.metrics().minus(before)
    api.close()
    request_bytes = result.bytes / result.calls if result.calls else 0.0
    return _Outcome(result, request_bytes, delta, written, settle_seconds, settled, resources)


def _report(args: argparse.Namespace, where: str, outcome: _Outcome) -> Report:
    result, delta, resources = outcome.result, outcome.delta, outcome.resources
    sent = outcome.sent
    batch = args.batch
    report = Report("fluoroscope bench otlp")
    report.section("What ran")
    report.row("command", _command(args))
    report.row("collector", where)
    report.row("machine", f"{machine()}; load generator on the same machine")
    report.row(
        "requests",
        f"ExportTraceServiceRequest of {batch:,} spans, {outcome.request_bytes:,.0f} bytes "
        f"({outcome.request_bytes / batch:,.0f} a span); traces of a SERVER span with a CLIENT "
        f"and an INTERNAL child, {len(SERVICES)} services",
    )
    report.section("Sending")
    report.row(
        "offered rate",
        f"{args.rate:,.0f} spans/s for {args.duration:g} s "
        f"({args.rate / batch:,.1f} calls/s, unary TraceService/Export over gRPC)",
    )
    seconds = result.seconds
    report.row(
        "achieved send rate",
        f"{sent / seconds if seconds else 0:,.0f} spans/s "
        f"(1 sender, {result.cpu_seconds / max(seconds, 1e-9):.2f} cores, "
        f"at most {result.most_in_flight:,} call{'s' if result.most_in_flight != 1 else ''} "
        "in flight)",
    )
    if result.held_back:
        report.row(
            "held back",
            f"{result.held_back:,} times, with {MAX_IN_FLIGHT:,} calls awaiting an answer",
        )
    report.row("batches sent", f"{result.calls:,} ({sent:,} spans)")
    report.row("  answered OK", f"{result.answered:,}")
    spooled = delta.family("fluoroscope_otlp_requests_spooled_total")
    if spooled:
        report.row(
            "    of which spooled",
            f"{spooled:,.0f} (answered once on disk, translation being behind; stored later)",
        )
    report.row(
        "  refused (retryable)",
        f"{result.refused:,} ({result.refused * batch:,} spans; UNAVAILABLE or "
        "RESOURCE_EXHAUSTED: a sender would retry them)",
    )
    failures = ", ".join(f"{count:,} {code}" for code, count in sorted(result.failed.items()))
    report.row("  failed", f"{result.failed_calls:,}" + (f" ({failures})" if failures else ""))
    if result.unanswered:
        report.row("  unanswered", f"{result.unanswered:,} (no answer, not even the deadline)")
    report.section("Outcome")
    received = delta.get(f'{_RECEIVED}{{transport="grpc"}}', 0.0)
    report.row("spans received", f"{received:,.0f} (translated by the collector)")
    report.row("spans stored", f"{outcome.stored:,.0f}")
    lost = outcome.lost
    report.row("lost (sent - stored)", f"{lost:,.0f} ({lost / max(1, sent):.2%})")
    full = _labelled(delta, _REFUSED, "pipeline_full")
    slow = _labelled(delta, _REFUSED, "store_slow")
    # Refusals for any other reason (malformed, a translator restarted, ...) come before the
    # spans are counted as received.
    early = delta.family(_REFUSED) - full - slow
    counted = {
        f"refused before translation ({early:,.0f} requests)": early * batch,
        # A call whose deadline passes before the collector has translated and checked its
        # request is cancelled there, and its spans never reach the pipeline.
        "not taken in (call given up first)": sent - received - early * batch,
        f"refused with the pipeline full ({full:,.0f} requests)": full * batch,
        # Refusals by the assembler (trace over its size limit) are among these.
        "rejected (partial_success)": delta.family(_REJECTED),
        "dropped by assembly as stale copies": _labelled(delta, _DROPPED, "stale_in_progress"),
        "sampled out": delta.family("fluoroscope_sampling_documents_dropped_total"),
    }
    for name, value in counted.items():
        report.row(f"  {name}", f"{value:,.0f}")
    report.row("  not accounted for", f"{lost - sum(counted.values()):,.0f}")
    # Spans of a call refused as not stored in time, or given up on once the collector had
    # them, stay in the pipeline and are stored all the same; a sender retrying them would
    # store them twice.
    acknowledged = result.answered * batch - result.rejected
    report.row(
        "stored, but their call not OK",
        f"{max(0.0, outcome.stored - acknowledged):,.0f} "
        f"({slow:,.0f} requests refused as not stored in time, the others given up on)",
    )
    report.row(
        "settled",
        f"{outcome.settle_seconds:.1f} s after sending stopped"
        + ("" if outcome.settled else " (gave up waiting)"),
    )
    report.section("Latency, export call to answer (the spans stored, or spooled on disk)")
    report.row("calls answered OK", milliseconds(result.latencies))
    report.row("  sent in the last quarter", milliseconds(result.late_latencies))
    report.section("Collector process")
    resources.report(report)
    report.section("Result")
    report.row(
        "verdict",
        "PASS: everything stored, nothing refused" if outcome.passed else "FAIL: " + _why(outcome),
    )
    return report


def _labelled(metrics: Metrics, name: str, reason: str) -> float:
    """The sum of a family's samples that carry ``reason``, whatever their other labels."""
    label = f'reason="{reason}"'
    return sum(
        value
        for key, value in metrics.items()
        if key.startswith(name + "{") and label in key[len(name) :]
    )


def _why(outcome: _Outcome) -> str:
    result = outcome.result
    reasons = []
    if result.spans == 0:
        reasons.append("nothing was sent")
    if outcome.lost:
        reasons.append(f"{outcome.lost:,.0f} spans lost")
    if result.refused:
        reasons.append(f"{result.refused:,} batches refused")
    if result.failed_calls:
        reasons.append(f"{result.failed_calls:,} calls failed")
    if result.unanswered:
        reasons.append(f"{result.unanswered:,} calls unanswered")
    return "; ".join(reasons)


def _command(args: argparse.Namespace) -> str:
    words = [
        *("fluoroscope", "bench", "otlp", "--rate", f"{args.rate:g}"),
        *("--duration", f"{args.duration:g}", "--batch", str(args.batch)),
    ]
    if args.grpc:
        words += ["--grpc", args.grpc, "--endpoint", args.endpoint]
    if args.pid is not None:
        words += ["--pid", str(args.pid)]
    return shlex.join(words)


def _target(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
