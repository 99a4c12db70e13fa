"""A UDP burst beyond what the pipeline can take waits on disk, across a restart if need be."""

import time

from tests.compat.documents import datagram, new_trace_id, new_window, segment
from tests.compat.process import Collector
from tests.compat.queries import eventually, summaries, wait_for_metric

SEGMENTS = 40_000
# Sent in chunks, each read before the next goes, so that the socket buffer never overflows.
CHUNK = 1_000
# Sending must outpace the pipeline by far, so the wait for each chunk polls closely.
RECEIVED_POLL_S = 0.002
# A queue in memory as small as it may be, and summaries on the pipeline thread: the pipeline
# falls far behind the receiver, and most of the burst goes to the spool.
SLOW_PIPELINE = {
    "FLUOROSCOPE_QUEUE_MAX_DOCUMENTS": "100",
    "FLUOROSCOPE_ASSEMBLY_SUMMARY_PROCESSES": "0",
}


def test_a_burst_waits_in_the_spool_through_a_restart_and_is_all_stored(
    make_collector, make_client
):
    """Spooled datagrams are read back first by the next process; none lost, none twice."""
    first = make_collector(**SLOW_PIPELINE)
    window = new_window()
    trace_ids = [new_trace_id(window + i * 0.05) for i in range(SEGMENTS)]
    datagrams = [datagram(segment(trace_id)) for trace_id in trace_ids]
    for start in range(0, SEGMENTS, CHUNK):
        first.send(*datagrams[start : start + CHUNK])
        _wait_until_received(first, start + CHUNK)
    spooled = first.metrics().value("fluoroscope_spool_items_written_total", spool="udp")

    status = first.stop()
    left = sorted((first.data_dir / "spool" / "udp").glob("*.spool"))
    second = make_collector(data_dir=first.data_dir, **SLOW_PIPELINE)
    client = make_client(second)

    def all_stored() -> list[str] | None:
        found = [s["Id"] for s in summaries(client, StartTime=window, EndTime=window + 3_600)]
        return found if len(found) >= SEGMENTS else None

    found = eventually(all_stored, f"{SEGMENTS} traces", timeout=60.0)
    assert status == 0
    assert spooled > SEGMENTS / 2
    assert left, "the first process stopped with nothing spooled: the restart proves nothing"
    assert sorted(found) == sorted(trace_ids)
    wait_for_metric(second, "fluoroscope_spool_items", 0, spool="udp")
    assert sorted((first.data_dir / "spool").rglob("*.spool")) == []


def _wait_until_received(collector: Collector, count: int) -> None:
    deadline = time.monotonic() + 10.0
    while collector.metrics().value("fluoroscope_udp_datagrams_received_total") < count:
        assert time.monotonic() < deadline, f"{count} datagrams not read within 10 s"
        time.sleep(RECEIVED_POLL_S)
