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
