"""PutTelemetryRecords through boto3, in the shape the X-Ray daemon sends every minute."""

import time

import pytest

TELEMETRY_SEGMENTS = "fluoroscope_daemon_telemetry_segments_total"


def _record(**counts):
    """One record as the daemon cuts it: every counter present, zero when nothing happened."""
    return {
        "Timestamp": time.time(),
        "SegmentsReceivedCount": counts.get("received", 0),
        "SegmentsSentCount": counts.get("sent", 0),
        "SegmentsSpilloverCount": 0,
        "SegmentsRejectedCount": counts.get("rejected", 0),
        "BackendConnectionErrors": {
            "TimeoutCount": 0,
            "ConnectionRefusedCount": 0,
            "HTTPCode4XXCount": 0,
            "HTTPCode5XXCount": 0,
            "UnknownHostCount": 0,
            "OtherCount": 0,
        },
    }


def test_the_daemons_local_mode_records_are_accepted(collector, xray):
    """Empty EC2InstanceId, Hostname and ResourceARN, as in local mode, are accepted and counted."""
    labels = {"source": "unknown", "kind": "SegmentsReceivedCount"}
    before = collector.metrics().value(TELEMETRY_SEGMENTS, **labels)

    reply = xray.put_telemetry_records(
        TelemetryRecords=[_record(received=120, sent=118, rejected=2), _record()],
        EC2InstanceId="",
        Hostname="",
        ResourceARN="",
    )

    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert collector.metrics().value(TELEMETRY_SEGMENTS, **labels) == before + 120


def test_records_are_counted_per_reporting_host(collector, xray):
    """A daemon that names its host is counted under that name."""
    labels = {"source": "ip-10-0-0-7", "kind": "SegmentsRejectedCount"}
    before = collector.metrics().value(TELEMETRY_SEGMENTS, **labels)

    xray.put_telemetry_records(
        TelemetryRecords=[_record(received=10, sent=7, rejected=3)],
        EC2InstanceId="i-0abc1234def567890",
        Hostname="ip-10-0-0-7",
        ResourceARN="",
    )

    assert collector.metrics().value(TELEMETRY_SEGMENTS, **labels) == before + 3


@pytest.mark.parametrize(
    "request_members",
    [
        {"TelemetryRecords": [_record(received=-1)]},
        {"TelemetryRecords": [_record()], "EC2InstanceId": "i-" + "0" * 30},
    ],
    ids=["negative count", "instance id over 20 characters"],
)
def test_records_outside_the_model_are_refused(xray, request_members):
    """Limits botocore leaves unchecked are InvalidRequestException (400) from the collector."""
    with pytest.raises(xray.exceptions.InvalidRequestException) as raised:
        xray.put_telemetry_records(**request_members)

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
