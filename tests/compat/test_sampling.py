"""Centralized sampling: boto3 manages rules; the unmodified aws-xray-sdk follows them."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.compat.process import Collector

RULE = {
    "RuleName": "checkout",
    "Priority": 10,
    "FixedRate": 0.0,
    "ReservoirSize": 0,
    "ServiceName": "*",
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "POST",
    "URLPath": "/checkout*",
    "ResourceARN": "*",
    "Version": 1,
}


def test_the_default_rule_is_always_served(collector: Collector, xray: Any) -> None:
    """GetSamplingRules answers with a rule named Default that the SDK accepts."""
    records = xray.get_sampling_rules()["SamplingRuleRecords"]

    default = [r["SamplingRule"] for r in records if r["SamplingRule"]["RuleName"] == "Default"]
    assert default
    assert default[0]["Priority"] == 10000
    assert default[0]["ResourceARN"] == "*"


def test_rules_can_be_created_updated_and_deleted(
    make_collector: Callable[..., Collector], make_client: Callable[..., Any]
) -> None:
    """Create, update and delete round-trip, and survive a restart."""
    collector = make_collector()
    client = make_client(collector)

    created = client.create_sampling_rule(SamplingRule=RULE)["SamplingRuleRecord"]
    updated = client.update_sampling_rule(
        SamplingRuleUpdate={"RuleName": "checkout", "FixedRate": 0.5}
    )["SamplingRuleRecord"]
    collector.stop()
    restarted = make_collector(collector.data_dir)
    names = {
        r["SamplingRule"]["RuleName"]: r["SamplingRule"]
        for r in make_client(restarted).get_sampling_rules()["SamplingRuleRecords"]
    }

    assert created["SamplingRule"]["RuleARN"].endswith(":sampling-rule/checkout")
    assert updated["SamplingRule"]["FixedRate"] == 0.5
    assert names["checkout"]["FixedRate"] == 0.5
    make_client(restarted).delete_sampling_rule(RuleName="checkout")
    remaining = make_client(restarted).get_sampling_rules()["SamplingRuleRecords"]
    assert [r["SamplingRule"]["RuleName"] for r in remaining] == ["Default"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Priority": 10000}, "Priority"),
        ({"FixedRate": 1.5}, "FixedRate"),
        ({"RuleName": "x" * 33}, "RuleName"),
        ({"Version": 2}, "Version"),
    ],
)
def test_out_of_range_rules_are_refused(
    collector: Collector, xray: Any, change: dict[str, Any], field: str
) -> None:
    """Limits botocore does not check are enforced by the collector."""
    with pytest.raises(xray.exceptions.InvalidRequestException, match=field):
        xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "bad", **change})


def test_the_default_rule_cannot_be_deleted(collector: Collector, xray: Any) -> None:
    """DeleteSamplingRule of Default is an InvalidRequestException."""
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.delete_sampling_rule(RuleName="Default")


def test_a_duplicate_rule_name_is_refused(collector: Collector, xray: Any) -> None:
    """Creating a rule twice is an InvalidRequestException."""
    xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "twice"})

    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "twice"})


_SDK_SCRIPT = """
import json, sys, time
from aws_xray_sdk.core import AWSXRayRecorder
recorder = AWSXRayRecorder()
recorder.configure(sampling=True, context_missing="LOG_ERROR", plugins=())
sampler = recorder.sampler
def decide(path, method):
    return sampler.should_trace({"host": "shop", "method": method, "path": path, "service": "web"})
deadline = time.time() + 10
while decide("/always/0", "GET") != "always" and time.time() < deadline:
    time.sleep(0.05)
print(json.dumps({
    "checkout": [decide(f"/checkout/{n}", "POST") for n in range(50)],
    "always": [decide(f"/always/{n}", "GET") for n in range(50)],
}))
sys.stdout.flush()
"""


def test_the_sdk_follows_a_rule_created_before_it_starts(
    make_collector: Callable[..., Collector], make_client: Callable[..., Any]
) -> None:
    """FixedRate 0 / ReservoirSize 0 on /checkout: never sampled; FixedRate 1 elsewhere: always.

    The SDK runs in its own process: its rule pollers are threads that never stop.
    """
    collector = make_collector()
    client = make_client(collector)
    client.create_sampling_rule(SamplingRule=RULE)
    client.create_sampling_rule(
        SamplingRule={**RULE, "RuleName": "always", "Priority": 20, "FixedRate": 1.0,
                      "HTTPMethod": "*", "URLPath": "/always*"}
    )  # fmt: skip
    port = collector.endpoint_url.rsplit(":", 1)[1]
    udp_host, udp_port = collector.udp_address
    environment = {
        **os.environ,
        "AWS_XRAY_DAEMON_ADDRESS": f"tcp:127.0.0.1:{port} udp:{udp_host}:{udp_port}",
    }

    result = subprocess.run(
        [sys.executable, "-c", _SDK_SCRIPT],
        env=environment, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip

    decisions = json.loads(result.stdout.strip().splitlines()[-1])
    assert decisions["checkout"] == [False] * 50
    assert decisions["always"] == ["always"] * 50


def test_two_clients_share_a_rules_reservoir(collector: Collector, xray: Any) -> None:
    """GetSamplingTargets splits a reservoir of 10 between two reporting clients."""
    xray.create_sampling_rule(
        SamplingRule={**RULE, "RuleName": "shared", "ReservoirSize": 10, "FixedRate": 0.1}
    )
    now = 1_800_000_000

    def report(client_id: str) -> dict[str, Any]:
        reply = xray.get_sampling_targets(
            SamplingStatisticsDocuments=[
                {"RuleName": "shared", "ClientID": client_id, "RequestCount": 5,
                 "SampledCount": 1, "BorrowCount": 0, "Timestamp": now}
            ]
        )  # fmt: skip
        (target,) = reply["SamplingTargetDocuments"]
        return dict(target)

    report("a" * 24)
    first = report("a" * 24)
    second = report("b" * 24)

    assert first["ReservoirQuota"] + second["ReservoirQuota"] == 10 or (
        first["ReservoirQuota"] == 10 and second["ReservoirQuota"] == 5
    )
    assert second["ReservoirQuota"] == 5
    assert second["FixedRate"] == 0.1


def test_clients_past_a_rules_limit_are_forgotten_oldest_first_and_counted(
    collector: Collector, xray: Any
) -> None:
    """A rule keeps at most 1,000 reporting clients; each one forgotten is counted."""
    xray.create_sampling_rule(
        SamplingRule={**RULE, "RuleName": "crowded", "ReservoirSize": 100, "FixedRate": 0.1}
    )
    evicted = "fluoroscope_sampling_clients_evicted_total"
    before = collector.metrics().value(evicted)
    clients = [f"{n:024x}" for n in range(1_005)]
    for offset in range(0, len(clients), 25):
        xray.get_sampling_targets(
            SamplingStatisticsDocuments=[
                {"RuleName": "crowded", "ClientID": client, "RequestCount": 1,
                 "SampledCount": 1, "BorrowCount": 0, "Timestamp": 1_800_000_000}
                for client in clients[offset : offset + 25]
            ]
        )  # fmt: skip

    assert collector.metrics().value(evicted) == before + 5
