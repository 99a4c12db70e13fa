"""The benchmark's document generator."""

import pytest

from fluoroscope.cli.bench.segments import HEADER, MAX_SEGMENTS, TraceGenerator
from fluoroscope.translate.xray_json import parse_document


def test_every_generated_document_is_valid() -> None:
    """Every document passes the collector's own validation."""
    generator = TraceGenerator(1, MAX_SEGMENTS, seed=7)

    documents = [d for _ in range(50) for d in generator.trace()[1]]

    for datagram in documents:
        assert datagram.startswith(HEADER)
        assert parse_document(datagram[len(HEADER) :])


def test_documents_are_about_700_bytes() -> None:
    """The mean document is realistic in size (the figures are quoted for ~700 bytes)."""
    generator = TraceGenerator(1, 3, seed=7)

    sizes = [len(d) - len(HEADER) for _ in range(100) for d in generator.trace()[1]]

    assert 650 <= sum(sizes) / len(sizes) <= 800


def test_ids_are_unique_across_traces_and_senders() -> None:
    """No two documents share an id, and no two traces share a trace id."""
    generators = [TraceGenerator(sender, 3, seed=1) for sender in (1, 2)]

    traces = [g.trace() for g in generators for _ in range(200)]
    ids = [parse_document(d[len(HEADER) :])[0].id for _, docs in traces for d in docs]

    assert len({trace_id for trace_id, _ in traces}) == len(traces)
    assert len(set(ids)) == len(ids)


def test_downstream_segments_call_back_into_the_entry_segment() -> None:
    """Each downstream segment's parent is a subsegment of the entry segment."""
    _, documents = TraceGenerator(1, 3, seed=1).trace()

    segments = [parse_document(d[len(HEADER) :])[0].segment for d in documents]
    entry = segments[-1]

    subsegment_ids = {s.id for s in entry.subsegments}
    assert entry.parent_id is None
    assert all(s.parent_id in subsegment_ids for s in segments[:-1])


def test_a_trace_of_more_segments_than_ids_allow_is_refused() -> None:
    """The generator refuses shapes whose ids would collide."""
    with pytest.raises(ValueError, match="segments per trace"):
        TraceGenerator(1, MAX_SEGMENTS + 1)
