"""The benchmark's document generator."""

import itertools
import statistics

import orjson
import pytest

from fluoroscope.cli.bench.segments import HEADER, MAX_SEGMENTS, TraceGenerator
from fluoroscope.model.segment import Segment
from fluoroscope.translate.xray_json import parse_document

NOW = 1795579417.25


def _segments(datagrams: list[bytes]) -> list[Segment]:
    return [parse_document(d[len(HEADER) :])[0].view() for d in datagrams]


def _sizes(generator: TraceGenerator, traces: int) -> list[int]:
    return [len(d) - len(HEADER) for _ in range(traces) for d in generator.trace(NOW)[1]]


@pytest.mark.parametrize("segments", [1, 2, 3, MAX_SEGMENTS])
def test_every_document_passes_the_collectors_validation(segments: int) -> None:
    """Every datagram is the daemon header and one document that parse_document accepts."""
    generator = TraceGenerator(1, segments, seed=7)

    traces = [generator.trace(NOW + n) for n in range(200)]

    for trace_id, datagrams in traces:
        assert len(datagrams) == segments
        for datagram in datagrams:
            assert datagram.startswith(HEADER)
            (document,) = parse_document(datagram[len(HEADER) :])
            assert document.trace_id == trace_id


def test_default_documents_are_as_large_as_the_sdk_makes_them() -> None:
    """Asked for 700 bytes, documents keep the SDK's layout, which makes them ~910 on average."""
    sizes = _sizes(TraceGenerator(1, 3, seed=7), 640)

    assert 700 <= statistics.mean(sizes) <= 1_000
    assert min(sizes) >= 400
    assert max(sizes) <= 1_500


@pytest.mark.parametrize("size", [1_200, 4_000])
def test_a_larger_size_sets_the_mean_document_size(size: int) -> None:
    """``size`` above the natural size is the mean document size, within a few percent."""
    sizes = _sizes(TraceGenerator(1, 3, size=size, seed=7), 640)

    assert statistics.mean(sizes) == pytest.approx(size, rel=0.03)


def test_ids_are_unique_across_traces_and_senders() -> None:
    """No two traces share a trace id, and no two entities share an id."""
    generators = [TraceGenerator(sender, 3, seed=1) for sender in (1, 2)]

    traces = [g.trace(NOW) for g in generators for _ in range(500)]

    trace_ids = [trace_id for trace_id, _ in traces]
    entity_ids = [
        entity.id for _, datagrams in traces for s in _segments(datagrams) for entity in s.walk()
    ]
    assert len(set(trace_ids)) == len(trace_ids)
    assert len(set(entity_ids)) == len(entity_ids)


def test_each_service_is_called_from_a_subsegment_of_the_one_before() -> None:
    """A downstream segment's parent is the caller's remote subsegment; only the entry is a root."""
    _, datagrams = TraceGenerator(1, 4, seed=1).trace(NOW)

    segments = _segments(datagrams)[::-1]  # sent deepest first

    assert segments[0].parent_id is None
    for caller, callee in itertools.pairwise(segments):
        remote = [s for s in caller.subsegments if s.namespace == "remote"]
        assert [s.id for s in remote] == [callee.parent_id]
        assert caller.start_time <= callee.start_time <= callee.end <= caller.end
    assert {s.name for s in segments[0].subsegments} >= {"DynamoDB"}


def test_embedded_subsegments_carry_what_the_sdk_writes() -> None:
    """Embedded subsegments have type, trace_id and parent_id; segments the SDK blocks."""
    trace_id, datagrams = TraceGenerator(1, 3, seed=1).trace(NOW)

    for datagram in datagrams:
        document = orjson.loads(datagram[len(HEADER) :])
        assert document["aws"]["xray"]["sdk"] == "X-Ray for Python"
        assert document["service"]["runtime"] == "CPython"
        assert document["in_progress"] is False
        for subsegment in document.get("subsegments", []):
            assert subsegment["type"] == "subsegment"
            assert subsegment["trace_id"] == trace_id
            assert subsegment["parent_id"] == document["id"]


def test_status_flags_follow_the_http_status() -> None:
    """5xx sets fault, 429 throttle and error, other 4xx error, as put_http_meta does."""
    generator = TraceGenerator(1, 1, seed=3)

    entries = [_segments(generator.trace(NOW)[1])[0] for _ in range(64)]

    statuses = {entry.status for entry in entries}
    assert len(statuses) > 2
    for entry in entries:
        status = entry.status or 0
        assert entry.fault == (status >= 500)
        assert entry.throttle == (status == 429)
        assert entry.error == (400 <= status < 500)


def test_times_end_at_now_and_the_trace_id_carries_the_start() -> None:
    """The entry segment ends at ``now`` (to the tick) and its trace id holds its start second."""
    trace_id, datagrams = TraceGenerator(1, 3, seed=1).trace(NOW)

    entry = _segments(datagrams)[-1]

    assert entry.end == pytest.approx(NOW, abs=0.05)
    assert int(trace_id[2:10], 16) == int(entry.start_time)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sender": 1, "segments": MAX_SEGMENTS + 1}, "segments per trace"),
        ({"sender": 256, "segments": 3}, "sender"),
        ({"sender": 1, "segments": 3, "size": 0}, "size"),
    ],
)
def test_impossible_shapes_are_refused(arguments: dict[str, int], message: str) -> None:
    """The generator refuses shapes whose ids would collide or that make no sense."""
    with pytest.raises(ValueError, match=message):
        TraceGenerator(**arguments)
