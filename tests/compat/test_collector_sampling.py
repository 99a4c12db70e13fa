"""The collector's own sampling: X-Ray rules applied at arrival, rules on whole traces after.

Apps here run the unmodified aws-xray-sdk with its own sampling off, so every request is
sent and the collector decides.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.compat.process import Collector
from tests.compat.queries import get_traces, wait_for_metric, wait_for_traces

TRACES = "fluoroscope_sampling_traces_total"
RULE = {
    "ResourceARN": "*",
    "ReservoirSize": 0,
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "*",
    "URLPath": "*",
    "Version": 1,
}


def sampling_of(collector: Collector, trace_ids: list[str]) -> dict[str, tuple[str | None, float]]:
    """The rule and probability recorded on each stored trace, read from the store itself."""
    uri = f"file:{collector.data_dir / 'fluoroscope.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as database:
        rows = database.execute(
            "SELECT trace_id, sampled_by, probability FROM traces WHERE trace_id IN "
            f"({', '.join('?' * len(trace_ids))})",
            trace_ids,
        ).fetchall()
    return {trace_id: (rule, probability) for trace_id, rule, probability in rows}


def send_traces(recorder: Any, service: str, count: int, **mark: Any) -> list[str]:
    """``count`` traces from ``service``; ``mark`` may set fault or a duration."""
    trace_ids = []
    for _ in range(count):
        segment = recorder.begin_segment(service)
        if mark.get("fault"):
            segment.add_fault_flag()
        if "duration" in mark:
            segment.start_time = time.time() - mark["duration"]
        recorder.end_segment()
        trace_ids.append(segment.trace_id)
    return trace_ids


def test_head_sampling_applies_the_rules_to_every_arriving_trace(
    make_collector: Callable[..., Collector],
    make_client: Callable[..., Any],
    make_recorder: Callable[..., Any],
) -> None:
    """resample: a rate-0 rule drops its service's traces, a rate-1 rule keeps them all."""
    collector = make_collector(FLUOROSCOPE_SAMPLING_HEAD="resample")
    xray = make_client(collector)
    xray.create_sampling_rule(
        SamplingRule={
            **RULE,
            "RuleName": "no-noise",
            "Priority": 1,
            "FixedRate": 0.0,
            "ServiceName": "noisy",
        }
    )
    xray.create_sampling_rule(
        SamplingRule={
            **RULE,
            "RuleName": "all-checkout",
            "Priority": 2,
            "FixedRate": 1.0,
            "ServiceName": "checkout",
        }
    )
    recorder = make_recorder(collector)

    noisy = send_traces(recorder, "noisy", 5)
    checkout = send_traces(recorder, "checkout", 5)

    wait_for_traces(xray, checkout)
    wait_for_metric(collector, TRACES, 5, stage="head", rule="no-noise", verdict="dropped")
    assert get_traces(xray, noisy) == {}
    assert collector.metrics().value(TRACES, stage="head", rule="all-checkout", verdict="kept") == 5
    assert sampling_of(collector, checkout) == dict.fromkeys(checkout, ("all-checkout", 1.0))


def test_head_sampling_follows_rules_changed_while_running(
    make_collector: Callable[..., Collector],
    make_client: Callable[..., Any],
    make_recorder: Callable[..., Any],
) -> None:
    """An updated rule takes effect for traces that arrive after the update."""
    collector = make_collector(FLUOROSCOPE_SAMPLING_HEAD="resample")
    xray = make_client(collector)
    xray.create_sampling_rule(
        SamplingRule={
            **RULE,
            "RuleName": "orders",
            "Priority": 1,
            "FixedRate": 1.0,
            "ServiceName": "orders",
        }
    )
    recorder = make_recorder(collector)
    kept = send_traces(recorder, "orders", 3)
    wait_for_traces(xray, kept)

    xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "orders", "FixedRate": 0.0})
    dropped = send_traces(recorder, "orders", 3)

    wait_for_metric(collector, TRACES, 3, stage="head", rule="orders", verdict="dropped")
    assert get_traces(xray, dropped) == {}


def test_tail_sampling_keeps_faults_and_slow_traces_and_drops_the_rest(
    make_collector: Callable[..., Collector],
    make_client: Callable[..., Any],
    make_recorder: Callable[..., Any],
) -> None:
    """Rules on whole traces: the deciding rule is recorded, every drop counted by rule."""
    rules = [
        {"name": "faults", "filter": "fault"},
        {"name": "slow", "filter": "duration > 2"},
    ]
    collector = make_collector(FLUOROSCOPE_SAMPLING_TAIL_RULES=json.dumps(rules))
    xray = make_client(collector)
    recorder = make_recorder(collector)

    faulty = send_traces(recorder, "checkout", 2, fault=True)
    slow = send_traces(recorder, "checkout", 2, duration=3.0)
    fine = send_traces(recorder, "checkout", 4)

    wait_for_traces(xray, faulty + slow)
    wait_for_metric(collector, TRACES, 4, stage="tail", rule="(no rule matched)", verdict="dropped")
    assert get_traces(xray, fine) == {}
    recorded = sampling_of(collector, faulty + slow)
    assert recorded == {
        **dict.fromkeys(faulty, ("faults", 1.0)),
        **dict.fromkeys(slow, ("slow", 1.0)),
    }


def test_a_bad_tail_rule_stops_start_up_with_its_name(tmp_path: Any) -> None:
    """A filter that does not parse is a configuration error naming the rule, exit status 2."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLUOROSCOPE_")}
    environment["FLUOROSCOPE_SAMPLING_TAIL_RULES"] = '[{"name": "slow", "filter": "duration >"}]'

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluoroscope",
            "serve",
            "--data-dir",
            str(tmp_path),
            "--udp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--otlp-grpc",
            "off",
            "--otlp-http",
            "off",
        ],
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    assert b"invalid sampling.tail.rules: rule 'slow'" in finished.stderr


def test_the_service_graph_counts_each_kept_trace_for_those_it_stands_for(
    make_collector: Callable[..., Collector],
    make_client: Callable[..., Any],
    make_recorder: Callable[..., Any],
) -> None:
    """Half the traces kept: the graph's counts estimate every trace that arrived."""
    rules = [{"name": "half", "keep": 0.5}]
    collector = make_collector(FLUOROSCOPE_SAMPLING_TAIL_RULES=json.dumps(rules))
    xray = make_client(collector)
    recorder = make_recorder(collector)
    start = time.time() - 60

    sent = send_traces(recorder, "inventory", 40)

    def decided() -> float:
        metrics = collector.metrics()
        return sum(
            metrics.value(TRACES, stage="tail", rule="half", verdict=verdict)
            for verdict in ("kept", "dropped")
        )

    deadline = time.monotonic() + 10
    while decided() < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    kept_count = collector.metrics().value(TRACES, stage="tail", rule="half", verdict="kept")
    kept = get_traces(xray, sent)
    while len(kept) < kept_count and time.monotonic() < deadline + 5:
        time.sleep(0.05)
        kept = get_traces(xray, sent)
    nodes = [
        service
        for service in xray.get_service_graph(StartTime=start, EndTime=time.time() + 60)["Services"]
        if service["Name"] == "inventory" and service.get("Type") != "client"
    ]
    (node,) = nodes
    assert 0 < len(kept) < 40
    assert node["SummaryStatistics"]["TotalCount"] == 2 * len(kept)
    assert sum(entry["Count"] for entry in node["ResponseTimeHistogram"]) == 2 * len(kept)
