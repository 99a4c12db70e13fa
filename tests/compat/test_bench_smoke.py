"""``fluoroscope bench ingest`` end to end, at a gentle rate."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.compat
def test_bench_ingest_loses_nothing_at_a_low_rate() -> None:
    """A two-second run starts its own collector, stores everything, and says so, naming
    the settings the collector took from the environment."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "ingest"),
        *("--rate", "2000", "--duration", "2", "--sample", "200"),
    ]

    environment = {**os.environ, "FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES": "0"}

    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=environment
    )

    assert result.returncode == 0, result.stdout + result.stderr
    collector = re.search(r"^\s+collector\s+(.*)$", result.stdout, re.MULTILINE)
    assert collector is not None, result.stdout
    assert "FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES=0" in collector.group(1)
    assert re.search(r"^\s+lost \(sent - stored\)\s+0 \(0\.00%\)$", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+read back \(BatchGetTraces\)\s+200 of 200 ", result.stdout, re.M)
    assert re.search(r"^\s+latency\s+p50 [0-9,]+ ms, p99", result.stdout, re.MULTILINE)
    assert "PASS" in result.stdout


@pytest.mark.compat
def test_bench_ingest_against_a_bounded_store_reports_what_retention_deleted() -> None:
    """Traces deleted for space during the run are reported, and are not taken for loss."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "ingest"),
        *("--rate", "1000", "--duration", "7", "--sample", "100"),
    ]
    environment = {
        **os.environ,
        "FLUOROSCOPE_STORE_MAX_BYTES": "1",
        "FLUOROSCOPE_ASSEMBLY_IDLE_TIMEOUT_S": "0.2",
        "FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES": "0",
    }

    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=environment
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s+lost \(sent - stored\)\s+0 \(0\.00%\)$", result.stdout, re.M)
    deleted = re.search(r"^\s+deleted by retention\s+([0-9,]+) traces", result.stdout, re.M)
    assert deleted is not None, result.stdout
    assert int(deleted.group(1).replace(",", "")) > 0
    assert "PASS" in result.stdout


@pytest.mark.compat
def test_bench_ingest_with_sampling_decides_everything_and_keeps_it() -> None:
    """--sampling turns both stages on, and every trace is still stored."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "ingest", "--sampling"),
        *("--rate", "1000", "--duration", "2", "--sample", "100"),
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = re.search(r"^\s+sampling verdicts\s+([0-9,]+) ", result.stdout, re.MULTILINE)
    assert verdicts is not None, result.stdout
    assert int(verdicts.group(1).replace(",", "")) > 1000  # two per trace, ~700 traces
    assert re.search(r"^\s+sampled out\s+0$", result.stdout, re.MULTILINE)


@pytest.mark.parametrize("processes", ["0", "1"])
def test_bench_pipeline_reports_both_configurations(processes: str) -> None:
    """A tiny run prints the per-document figures of both configurations, with or without
    a summary process."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "pipeline"),
        *("--traces", "300", "--repeat", "1", "--summary-processes", processes),
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\s+sampling off\s+[0-9.]+ us", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+head and tail sampling\s+[0-9.]+ us", result.stdout, re.MULTILINE)


@pytest.mark.compat
def test_bench_otlp_stores_every_span_sent_at_a_low_rate() -> None:
    """A two-second run over OTLP/gRPC stores as many spans as it sent, and says so."""
    command = [
        *(sys.executable, "-m", "fluoroscope", "bench", "otlp"),
        *("--rate", "5000", "--duration", "2"),
    ]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    sent = re.search(r"^\s+batches sent\s+[0-9,]+ \(([0-9,]+) spans\)$", result.stdout, re.M)
    stored = re.search(r"^\s+spans stored\s+([0-9,]+)$", result.stdout, re.MULTILINE)
    assert sent is not None, result.stdout
    assert stored is not None, result.stdout
    assert int(sent.group(1).replace(",", "")) > 0
    assert stored.group(1) == sent.group(1)
    assert re.search(r"^\s+lost \(sent - stored\)\s+0 \(0\.00%\)$", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+refused \(retryable\)\s+0 ", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+calls answered OK\s+p50 [0-9,]+ ms, p99", result.stdout, re.M)
    # The translation process is a child: its memory and CPU are reported with the collector's.
    own = re.search(
        r"^\s+memory \(RSS, 1 s samples to the end\)\s+median ([0-9,]+) MiB", result.stdout, re.M
    )
    together = re.search(
        r"^\s+with its ([0-9]+) child processes \(PSS\)\s+median ([0-9,]+) MiB", result.stdout, re.M
    )
    assert own is not None, result.stdout
    assert together is not None, result.stdout
    assert int(together.group(1)) >= 1
    assert int(together.group(2).replace(",", "")) > 0
    assert re.search(r"^\s+child processes\s+[0-9.]+ cores on average$", result.stdout, re.M)
    assert "PASS" in result.stdout
