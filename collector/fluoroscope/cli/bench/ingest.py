"""``fluoroscope bench ingest``: X-Ray segments over UDP at a fixed rate, and what became of them.

Without ``--udp``/``--endpoint`` it starts its own collector on a temporary data directory and
stops it at the end. It reports the offered and achieved rates, the documents stored and lost
(with the collector's own counts of why: kernel socket drops, a full pipeline, refusals), how
many waited in the collector's disk spool and how long after the run the last was stored,
whether a random sample of the traces sent reads back whole, the time from datagram to
queryable, and the collector's memory. The exit status is 1 when anything was lost or cannot be
read back.

``--sampling`` runs that collector with head and tail sampling on, set to keep every trace, so
that the run measures what deciding costs without changing what is stored.
"""

import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluoroscope.cli.bench import senders
from fluoroscope.cli.bench.arguments import bounded, positive
from fluoroscope.cli.bench.client import (
    Api,
    Collector,
    Metrics,
    inherited_settings,
    parse_address,
    settle,
    start_collector,
)
from fluoroscope.cli.bench.pipeline import KEEP_ALL_TAIL_RULES
from fluoroscope.cli.bench.probes import BATCH_IDS, Probes, ResourceSampler
from fluoroscope.cli.bench.report import Report, machine, milliseconds
from fluoroscope.cli.bench.segments import DEFAULT_SIZE, MAX_SEGMENTS, MAX_SIZE

# How long to wait for probes still unanswered once everything is written.
PROBE_GRACE_S = 10.0
# --sampling: every trace goes through both stages and is kept.
SAMPLING_ENV = {
    "FLUOROSCOPE_SAMPLING_HEAD": "resample",
    "FLUOROSCOPE_SAMPLING_TAIL_RULES": json.dumps(KEEP_ALL_TAIL_RULES),
}

_REFUSED_UDP = "fluoroscope_udp_datagrams_refused_total"
_RETENTION = (
    "fluoroscope_store_traces_expired_total",
    "fluoroscope_store_traces_deleted_for_space_total",
)


def add_parser(benches: "argparse._SubParsersAction[Any]") -> None:
    """Declare ``bench ingest``."""
    parser = benches.add_parser(
        "ingest",
        help="offer X-Ray segments over UDP; report loss, latency and memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rate", type=positive, default=60_000.0, help="segments offered per second"
    )
    parser.add_argument("--duration", type=positive, default=30.0, help="seconds to offer them for")
    parser.add_argument(
        "--size",
        type=bounded(1, MAX_SIZE),
        default=DEFAULT_SIZE,
        help="mean document size aimed at, in bytes (documents are never smaller than the "
        "X-Ray SDK's layout makes them)",
    )
    parser.add_argument(
        "--segments-per-trace",
        type=bounded(1, MAX_SEGMENTS),
        default=3,
        help=f"segments (services) per trace, 1-{MAX_SEGMENTS}",
    )
    parser.add_argument(
        "--senders", type=bounded(1, 64), default=1, help="sending processes sharing the rate"
    )
    parser.add_argument(
        "--sample",
        type=bounded(1, 100_000),
        default=1_000,
        help="traces picked at random to read back with BatchGetTraces",
    )
    parser.add_argument(
        "--sampling",
        action="store_true",
        help="run the collector started here with head and tail sampling keeping everything",
    )
    parser.add_argument("--udp", help="HOST:PORT of a running collector's UDP listener")
    parser.add_argument("--endpoint", help="URL of that collector's HTTP API (with --udp)")
    parser.add_argument("--pid", type=int, help="that collector's pid, to measure its memory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 when nothing was lost, 1 otherwise, 2 on bad arguments."""
    if bool(args.udp) != bool(args.endpoint):
        print("fluoroscope bench ingest: --udp and --endpoint go together", file=sys.stderr)
        return 2
    if args.pid is not None and not args.udp:
        print("fluoroscope bench ingest: --pid is for a running collector", file=sys.stderr)
        return 2
    if args.sampling and args.udp:
        print("fluoroscope bench ingest: --sampling is for the collector started here",
              file=sys.stderr)  # fmt: skip
        return 2
    with tempfile.TemporaryDirectory(prefix="fluoroscope-bench-") as scratch:
        if args.udp:
            try:
                collector = Collector(
                    parse_address(args.udp), parse_address(args.endpoint), args.pid
                )
            except ValueError as exc:
                print(f"fluoroscope bench ingest: {exc}", file=sys.stderr)
                return 2
            where = f"running at udp://{args.udp} and {args.endpoint}"
        else:
            collector = start_collector(Path(scratch), SAMPLING_ENV if args.sampling else None)
            where = (
                f"started for this run (pid {collector.pid}), temporary data directory; "
                f"settings from the environment: {inherited_settings()}"
            )
            if args.sampling:
                # Default is the only rule; at rate 1 the head stage decides and keeps all.
                api = Api(collector.http)
                try:
                    api.call(
                        "/UpdateSamplingRule",
                        {"SamplingRuleUpdate": {"RuleName": "Default", "FixedRate": 1.0}},
                    )
                finally:
                    api.close()
                where += "; head and tail sampling on, keeping everything"
        try:
            outcome = _measure(args, collector)
        finally:
            collector.stop()
    print(_report(args, where, outcome).render())
    return 0 if outcome.passed else 1


@dataclass
class _Outcome:
    results: list[senders.Result]
    delta: Metrics
    stored: float
    settle_seconds: float
    settled: bool
    whole: int
    incomplete: int
    missing: int
    checked: int
    probes: Probes
    resources: ResourceSampler

    @property
    def sent(self) -> int:
        return sum(r.documents for r in self.results)

    @property
    def lost(self) -> float:
        return self.sent - self.stored

    @property
    def deleted(self) -> float:
        """Traces retention deleted during the run (store.max_bytes, store.retention_days)."""
        return sum(self.delta.get(name, 0.0) for name in _RETENTION)

    @property
    def read_back_judged(self) -> bool:
        """Whether a sampled trace found missing or incomplete counts against the run: not
        when retention deleted traces meanwhile, as it may have deleted those."""
        return self.deleted == 0

    @property
    def passed(self) -> bool:
        return (
            self.sent > 0
            and self.lost == 0
            and (self.whole == self.checked or not self.read_back_judged)
            and self.probes.found == self.probes.sent
        )


def _measure(args: argparse.Namespace, collector: Collector) -> _Outcome:
    api = Api(collector.http)
    plans = senders.plans(
        args.senders,
        args.rate,
        args.duration,
        args.segments_per_trace,
        args.size,
        collector.udp,
        args.sample,
    )
    before = api.metrics()
    resources = ResourceSampler(collector.pid)
    probes = Probes(collector.udp, collector.http, args.size)

    def watch() -> None:
        resources.start()
        probes.start()

    try:
        results = senders.run(plans, on_start=watch)
    finally:
        resources.lap()
        probes.stop_sending()
    sent = sum(r.documents for r in results)
    stopped = time.monotonic()
    written, settled = settle(api, before, sent + probes.sent)
    settle_seconds = time.monotonic() - stopped
    probes.stop(PROBE_GRACE_S)
    resources.stop()
    delta = api.metrics().minus(before)
    # Probe documents are written too: one per probe found.
    stored = written - probes.found
    sampled = [trace_id for r in results for trace_id in r.sampled]
    whole, incomplete = _read_back(api, sampled, args.segments_per_trace)
    api.close()
    return _Outcome(
        results,
        delta,
        stored,
        settle_seconds,
        settled,
        whole,
        incomplete,
        len(sampled) - whole - incomplete,
        len(sampled),
        probes,
        resources,
    )


def _read_back(api: Api, trace_ids: list[str], segments: int) -> tuple[int, int]:
    """BatchGetTraces on ``trace_ids``; return (found with every segment, found short).

    The inferred segments BatchGetTraces adds for downstream calls are not counted: only what
    was sent."""
    whole = incomplete = 0
    for offset in range(0, len(trace_ids), BATCH_IDS):
        reply = api.call("/Traces", {"TraceIds": trace_ids[offset : offset + BATCH_IDS]})
        for trace in reply["Traces"]:
            sent = [s for s in trace["Segments"] if not _inferred(s["Document"])]
            if len(sent) == segments:
                whole += 1
            else:
                incomplete += 1
    return whole, incomplete


def _inferred(document: str) -> bool:
    body = json.loads(document)
    return isinstance(body, dict) and body.get("inferred") is True


def _report(args: argparse.Namespace, where: str, outcome: _Outcome) -> Report:
    results, delta, probes, resources = (
        outcome.results,
        outcome.delta,
        outcome.probes,
        outcome.resources,
    )
    sent = outcome.sent
    seconds = max((r.seconds for r in results), default=0.0)
    report = Report("fluoroscope bench ingest")
    report.section("What ran")
    report.row("command", _command(args))
    report.row("collector", where)
    report.row("machine", f"{machine()}; load generator on the same machine")
    report.row(
        "documents",
        f"{sum(r.bytes for r in results) / max(1, sent):,.0f} bytes on average "
        f"(aimed at {args.size}), {args.segments_per_trace} per trace, aws-xray-sdk layout",
    )
    report.section("Sending")
    report.row("offered rate", f"{args.rate:,.0f} segments/s for {args.duration:g} s")
    report.row(
        "achieved send rate",
        f"{sent / seconds if seconds else 0:,.0f} segments/s "
        f"({args.senders} sender{'s' if args.senders > 1 else ''}, "
        f"{sum(r.cpu_seconds for r in results) / max(seconds, 1e-9):.2f} cores)",
    )
    report.row("segments sent", f"{sent:,}")
    errors = sum(r.errors for r in results)
    if errors:
        report.row("sendto failures", f"{errors:,} (not sent, not counted above)")
    report.section("Outcome")
    received = delta.get("fluoroscope_udp_datagrams_received_total", 0.0)
    report.row("received by the collector", f"{received:,.0f} datagrams (probes included)")
    spooled = delta.get('fluoroscope_spool_items_written_total{spool="udp"}', 0.0)
    if spooled:
        report.row(
            "  of which spooled", f"{spooled:,.0f} (written to disk while the pipeline was behind)"
        )
    report.row("segments stored", f"{outcome.stored:,.0f}")
    lost = outcome.lost
    report.row("lost (sent - stored)", f"{lost:,.0f} ({lost / max(1, sent):.2%})")
    counted = {
        "kernel socket drops": delta.get("fluoroscope_udp_kernel_drops", 0.0),
        "pipeline full (queue_full)": delta.get(f'{_REFUSED_UDP}{{reason="queue_full"}}', 0.0),
        "refused before parsing": delta.family(_REFUSED_UDP)
        - delta.get(f'{_REFUSED_UDP}{{reason="queue_full"}}', 0.0),
        "refused as invalid": delta.family("fluoroscope_documents_refused_total"),
        "dropped by assembly": delta.family("fluoroscope_assembly_documents_dropped_total"),
        "sampled out": delta.family("fluoroscope_sampling_documents_dropped_total"),
    }
    for name, value in counted.items():
        report.row(f"  {name}", f"{value:,.0f}")
    # The collector's counts include the probes' datagrams: those lost are taken out here.
    probes_lost = probes.sent - probes.found
    if probes_lost:
        report.row("  minus probes lost (in the counts above)", f"-{probes_lost:,}")
    report.row("  not accounted for", f"{lost + probes_lost - sum(counted.values()):,.0f}")
    if args.sampling:
        verdicts = delta.family("fluoroscope_sampling_traces_total")
        report.row("sampling verdicts", f"{verdicts:,.0f} (head and tail stages together)")
    report.row(
        "settled",
        f"{outcome.settle_seconds:.1f} s after sending stopped"
        + ("" if outcome.settled else " (gave up waiting)"),
    )
    report.row(
        "read back (BatchGetTraces)",
        f"{outcome.whole:,} of {outcome.checked:,} random sampled traces whole"
        + (f", {outcome.incomplete:,} incomplete" if outcome.incomplete else "")
        + (f", {outcome.missing:,} missing" if outcome.missing else ""),
    )
    if not outcome.read_back_judged:
        report.row(
            "  deleted by retention",
            f"{outcome.deleted:,.0f} traces during the run, so the read-back is not judged",
        )
    report.section("Latency, datagram to queryable")
    report.row(
        "probes",
        f"{len(probes.latencies):,} of {probes.sent:,} found while polled"
        + (f", {probes.found_late:,} more only after the run" if probes.found_late else "")
        + f" (one sent every {probes.interval_s * 1000:.0f} ms; one BatchGetTraces call "
        f"every {probes.poll_s * 1000:.0f} ms)",
    )
    report.row("latency", milliseconds(probes.latencies))
    report.section("Collector process")
    resources.report(report)
    report.section("Result")
    report.row("verdict", "PASS: nothing lost" if outcome.passed else "FAIL: " + _why(outcome))
    return report


def _why(outcome: _Outcome) -> str:
    reasons = []
    if outcome.sent == 0:
        reasons.append("nothing was sent")
    if outcome.lost:
        reasons.append(f"{outcome.lost:,.0f} segments lost")
    if outcome.whole != outcome.checked and outcome.read_back_judged:
        reasons.append(f"{outcome.checked - outcome.whole:,} sampled traces not whole")
    unanswered = outcome.probes.sent - outcome.probes.found
    if unanswered:
        reasons.append(f"{unanswered:,} probes never found")
    return "; ".join(reasons)


def _command(args: argparse.Namespace) -> str:
    words = [
        *("fluoroscope", "bench", "ingest", "--rate", f"{args.rate:g}"),
        *("--duration", f"{args.duration:g}", "--size", str(args.size)),
        *("--segments-per-trace", str(args.segments_per_trace), "--senders", str(args.senders)),
    ]
    if args.udp:
        words += ["--udp", args.udp, "--endpoint", args.endpoint]
    if args.pid is not None:
        words += ["--pid", str(args.pid)]
    return shlex.join(words)
