"""The AWS OpenTelemetry distro's ``AwsXRayRemoteSampler`` follows rules served by the collector.

The sampler polls GetSamplingRules at once and reports to ``/SamplingTargets`` about ten seconds
later (with the distro's own extra ``SamplingBoostStatisticsDocuments`` member); both requests are
answered by the collector, and the statistics it reports show up in
GetSamplingStatisticSummaries.
"""

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.compat.process import Collector

_RULE = {
    "RuleName": "never",
    "Priority": 10,
    "FixedRate": 0.0,
    "ReservoirSize": 0,
    "ServiceName": "web",
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "POST",
    "URLPath": "/checkout*",
    "ResourceARN": "*",
    "Version": 1,
}

# Runs in its own process: the sampler's pollers are timer threads that never stop.
_SAMPLER_SCRIPT = """
import json, random, sys, time
from amazon.opentelemetry.distro.sampler.aws_xray_remote_sampler import AwsXRayRemoteSampler
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanKind

started = time.monotonic()
sampler = AwsXRayRemoteSampler(
    Resource.create({"service.name": "web"}), endpoint=sys.argv[1], polling_interval=300
)

def decide(path, method):
    result = sampler.should_sample(
        None, random.getrandbits(128), "request", kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": path, "server.address": "shop"},
    )
    return [result.decision.is_sampled(), (result.attributes or {}).get("aws.xray.sampling_rule")]

deadline = time.monotonic() + 10
while decide("/always/0", "GET")[1] != "always" and time.monotonic() < deadline:
    time.sleep(0.05)
before = {
    "never": [decide(f"/checkout/{n}", "POST") for n in range(50)],
    "always": [decide(f"/always/{n}", "GET") for n in range(50)],
}
# The first GetSamplingTargets report goes out 10 to 10.1 s after the sampler starts.
time.sleep(max(0.0, started + 11.5 - time.monotonic()))
after = {"always": [decide(f"/always/{n}", "GET") for n in range(20)]}
print(json.dumps({"before": before, "after": after}))
sys.stdout.flush()
"""


def test_the_distro_sampler_follows_rules_and_reports_statistics(
    make_collector: Callable[..., Collector], make_client: Callable[..., Any]
) -> None:
    """A FixedRate 0 / ReservoirSize 0 rule never samples; FixedRate 1 always; reports count."""
    collector = make_collector()
    client = make_client(collector)
    client.create_sampling_rule(SamplingRule=_RULE)
    client.create_sampling_rule(
        SamplingRule={**_RULE, "RuleName": "always", "Priority": 20, "FixedRate": 1.0,
                      "HTTPMethod": "*", "URLPath": "/always*"}
    )  # fmt: skip

    result = subprocess.run(
        [sys.executable, "-c", _SAMPLER_SCRIPT, collector.endpoint_url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip

    decisions = json.loads(result.stdout.strip().splitlines()[-1])
    assert decisions["before"]["never"] == [[False, "never"]] * 50
    assert decisions["before"]["always"] == [[True, "always"]] * 50
    assert decisions["after"]["always"] == [[True, "always"]] * 20
    reported = _summaries_when_reported(client, {"never", "always"})
    assert reported["never"]["RequestCount"] == 50
    assert reported["never"]["SampledCount"] == 0
    assert reported["always"]["RequestCount"] >= 50
    assert reported["always"]["SampledCount"] == reported["always"]["RequestCount"]


def _summaries_when_reported(client: Any, rules: set[str]) -> dict[str, dict[str, Any]]:
    """The statistic summaries by rule name, once every rule in ``rules`` has one."""
    deadline = time.monotonic() + 5
    while True:
        summaries = client.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]
        by_rule = {summary["RuleName"]: summary for summary in summaries}
        if rules <= by_rule.keys() or time.monotonic() > deadline:
            return by_rule
        time.sleep(0.1)
