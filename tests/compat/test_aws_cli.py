"""The AWS CLI, pointed at a collector with ``--endpoint-url``."""

import json
import os
import subprocess
import sys

from tests.compat.documents import dumps, new_trace_id, new_window, segment

CLI_TIMEOUT_S = 60


def test_get_trace_summaries_lists_the_traces_in_the_window(collector, xray, tmp_path):
    """``aws xray get-trace-summaries`` prints, as JSON, the traces of the window asked for."""
    window = new_window()
    document = segment(new_trace_id(window + 5), annotations={"customer": "acme"})
    xray.put_trace_segments(TraceSegmentDocuments=[dumps(document)])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    command = [
        sys.executable, "-m", "awscli", "xray", "get-trace-summaries",
        "--endpoint-url", collector.endpoint_url,
        "--start-time", str(window), "--end-time", str(window + 60),
        "--output", "json",
    ]  # fmt: skip

    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=CLI_TIMEOUT_S, check=False
    )

    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(result.stdout)["TraceSummaries"]
    assert summary["Id"] == document["trace_id"]
    assert summary["Annotations"] == {
        "customer": [
            {
                "AnnotationValue": {"StringValue": "acme"},
                "ServiceIds": [{"Name": "checkout", "Names": ["checkout"]}],
            }
        ]
    }


def _aws(tmp_path, collector, *arguments):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    command = [sys.executable, "-m", "awscli", "xray", *arguments,
               "--endpoint-url", collector.endpoint_url, "--output", "json"]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, timeout=CLI_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_cli_filters_summaries_and_draws_the_service_graph(collector, xray, tmp_path):
    """``--filter-expression`` and ``get-service-graph`` work from the command line."""
    window = new_window()
    faulty = segment(new_trace_id(window + 5), annotations={"customer": "cli"}, fault=True)
    fine = segment(new_trace_id(window + 6), annotations={"customer": "cli"})
    xray.put_trace_segments(TraceSegmentDocuments=[dumps(faulty), dumps(fine)])

    found = _aws(
        tmp_path, collector, "get-trace-summaries",
        "--start-time", str(window), "--end-time", str(window + 60),
        "--filter-expression", 'annotation.customer = "cli" AND fault',
    )  # fmt: skip
    graph = _aws(
        tmp_path, collector, "get-service-graph",
        "--start-time", str(window - 120), "--end-time", str(window + 120),
    )  # fmt: skip

    assert [s["Id"] for s in found["TraceSummaries"]] == [faulty["trace_id"]]
    assert "checkout" in {s["Name"] for s in graph["Services"]}


def test_the_cli_manages_groups_and_sampling_rules(collector, tmp_path):
    """create-group and create-sampling-rule round-trip through the AWS CLI."""
    created = _aws(
        tmp_path, collector, "create-group", "--group-name", "cli-group",
        "--filter-expression", "fault",
    )  # fmt: skip
    rule = _aws(
        tmp_path, collector, "create-sampling-rule", "--sampling-rule",
        json.dumps({"RuleName": "cli-rule", "Priority": 5, "FixedRate": 0.2, "ReservoirSize": 1,
                    "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
                    "URLPath": "/cli*", "ResourceARN": "*", "Version": 1}),
    )  # fmt: skip

    assert created["Group"]["GroupName"] == "cli-group"
    assert rule["SamplingRuleRecord"]["SamplingRule"]["RuleName"] == "cli-rule"
