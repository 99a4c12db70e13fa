"""``fluoroscope bench ingest`` end to end, at a gentle rate."""

import re
import subprocess
import sys

import pytest


@pytest.mark.compat
def test_bench_ingest_loses_nothing_at_a_low_rate() -> None:
    """A two-second run starts its own collector, stores everything, and says so."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "ingest"),
        *("--rate", "2000", "--duration", "2", "--sample", "200"),
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s+lost \(sent - stored\)\s+0 \(0\.00%\)$", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+read back \(BatchGetTraces\)\s+200 of 200 ", result.stdout, re.M)
    assert re.search(r"^\s+latency\s+p50 [0-9,]+ ms, p99", result.stdout, re.MULTILINE)
    assert "PASS" in result.stdout
