"""``fluoroscope bench ingest`` end to end, at a gentle rate."""

import re
import subprocess
import sys


def test_bench_ingest_reports_no_loss_at_a_low_rate() -> None:
    """A short run starts its own collector, loses nothing, and prints its figures."""
    command = [sys.executable, "-m", "fluoroscope", "bench", "ingest", "--rate", "2000",
               "--duration", "2"]  # fmt: skip

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^lost\s+0$", result.stdout, re.MULTILINE)
    assert "datagram to queryable" in result.stdout
