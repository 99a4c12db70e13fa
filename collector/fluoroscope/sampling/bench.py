"""A micro-benchmark of rule matching: the median time :meth:`RuleSet.match` takes per request.

Run it with ``python -m fluoroscope.sampling.bench``. The target is 2 µs at 25 rules.
"""

import gc
import statistics
import time
from collections.abc import Callable, Sequence

from fluoroscope.sampling.matching import RuleSet, SamplingRequest
from fluoroscope.sampling.rules import SamplingRule, default_rule

# Kinds of rule people write: by service, by host, by route, by method, and combinations.
_SERVICES = ("checkout", "payments-*", "*", "inventory", "*-worker", "*")
_HOSTS = ("*", "*.example.com", "api.example.com", "*")
_METHODS = ("*", "POST", "GET", "*", "*")


def benchmark_rules(count: int = 25) -> list[SamplingRule]:
    """``count`` varied rules plus ``Default``, as a benchmark's rule set."""
    rules = [
        SamplingRule(
            rule_name=f"rule-{index:02d}",
            rule_arn="",
            resource_arn="*",
            priority=100 + index,
            fixed_rate=0.1,
            reservoir_size=1,
            service_name=_SERVICES[index % len(_SERVICES)],
            service_type="*" if index % 3 else "AWS::EC2::Instance",
            host=_HOSTS[index % len(_HOSTS)],
            http_method=_METHODS[index % len(_METHODS)],
            url_path=f"/api/v{index}/*" if index % 2 else f"/orders/{index}/*/items",
        )
        for index in range(count)
    ]
    return [*rules, default_rule()]


def benchmark_requests() -> tuple[list[SamplingRequest], list[SamplingRequest]]:
    """Requests that match early, late or not at all, and requests that match no rule."""
    mixed = [
        SamplingRequest("checkout", "AWS::EC2::Instance", "api.example.com", "GET", "/api/v1/a"),
        SamplingRequest("payments-eu", None, "www.example.com", "POST", "/orders/4/77/items"),
        SamplingRequest("billing-worker", "AWS::ECS::Container", "localhost", "GET", "/api/v23/"),
        SamplingRequest("inventory", "", "", "", ""),
        SamplingRequest("search", "AWS::EC2::Instance", "search.internal", "GET", "/q?term=x"),
        SamplingRequest("Checkout", None, "API.EXAMPLE.COM", "post", "/API/V9/orders/12345"),
    ]
    unmatched = [
        SamplingRequest("search", "AWS::EC2::Instance", "search.internal", "GET", "/q?term=x"),
        SamplingRequest("ledger", "AWS::Lambda", "ledger.internal", "PUT", "/accounts/9/close"),
    ]
    return mixed, unmatched


def _median_microseconds(
    match: Callable[[SamplingRequest], SamplingRule],
    requests: Sequence[SamplingRequest],
    batches: int,
    batch_size: int,
) -> float:
    cycle = [requests[index % len(requests)] for index in range(batch_size)]
    timings = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for request in cycle:
            match(request)
        timings.append((time.perf_counter_ns() - start) / batch_size)
    return statistics.median(timings) / 1000.0


def benchmark_matching(
    *,
    rules: int = 25,
    batches: int = 200,
    batch_size: int = 1000,
    out: Callable[[str], object] = print,
) -> dict[str, float]:
    """Time rule matching over ``rules`` rules plus Default, print it, return µs per match.

    Each figure is the median over ``batches`` of the mean time of ``batch_size`` matches;
    "mixed" cycles through varied requests, "unmatched" through requests that try every rule
    before falling to Default.
    """
    ruleset = RuleSet(benchmark_rules(rules))
    mixed, unmatched = benchmark_requests()
    enabled = gc.isenabled()
    gc.disable()  # a collection inside a batch would time the collector, not matching
    try:
        results = {
            "mixed": _median_microseconds(ruleset.match, mixed, batches, batch_size),
            "unmatched": _median_microseconds(ruleset.match, unmatched, batches, batch_size),
        }
    finally:
        if enabled:
            gc.enable()
    out(f"sampling rule matching, {rules} rules + Default (median of {batches} batches)")
    out(f"  mixed requests       {results['mixed']:.2f} µs per match")
    out(f"  no rule matches      {results['unmatched']:.2f} µs per match")
    return results


if __name__ == "__main__":
    benchmark_matching()
