"""Ids, times and refusals between OTLP and X-Ray (xray-protocol.md 4.1, 5.2)."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluoroscope.translate.otlp import otel_trace_id, spans_to_documents, xray_trace_id
from fluoroscope.translate.otlp._ids import nanos, seconds

from .conftest import END, START, TRACE_ID, export_request


def test_an_otlp_trace_id_becomes_the_x_ray_form():
    """The first 4 bytes are the 8-hex "epoch" part, the other 12 the 24-hex random part."""
    trace_id = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")

    assert xray_trace_id(trace_id) == "1-4bf92f35-77b34da6a3ce929d0e0e4736"


def test_an_x_ray_trace_id_becomes_its_sixteen_bytes():
    """The dashes and version go; the hex digits are the bytes."""
    assert otel_trace_id("1-4bf92f35-77b34da6a3ce929d0e0e4736").hex() == (
        "4bf92f3577b34da6a3ce929d0e0e4736"
    )


@given(st.binary(min_size=16, max_size=16).filter(lambda raw: any(raw[4:])))
def test_trace_ids_survive_both_conversions(trace_id):
    """Any 16-byte trace id X-Ray can hold comes back unchanged."""
    assert otel_trace_id(xray_trace_id(trace_id)) == trace_id


def test_a_random_epoch_part_is_kept(make_span, to_document):
    """A W3C trace id's random first bytes are never judged as an epoch."""
    span = make_span(trace_id=bytes.fromhex("ffffffff77b34da6a3ce929d0e0e4736"))

    document = to_document(span)

    assert document["trace_id"] == "1-ffffffff-77b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"trace_id": bytes(15)}, "InvalidTraceId"),
        ({"trace_id": bytes(16)}, "InvalidTraceId"),
        ({"trace_id": bytes.fromhex("6b065e19") + bytes(12)}, "InvalidTraceId"),
        ({"span_id": bytes(8)}, "InvalidId"),
        ({"span_id": b"\x01"}, "InvalidId"),
        ({"parent_span_id": b"\x01\x02"}, "InvalidParentId"),
        ({"start_time_unix_nano": 0}, "MissingStartTime"),
        ({"end_time_unix_nano": START - 1}, "InvalidEndTime"),
    ],
)
def test_a_span_x_ray_cannot_take_is_refused_with_its_reason(make_span, fields, reason):
    """Bad ids and times are refused with the X-Ray error code, never dropped silently."""
    request = export_request(make_span(**fields))

    translation = spans_to_documents(request)

    assert translation.documents == []
    assert [(index, refusal.code) for index, refusal in translation.rejected] == [(0, reason)]


def test_refusals_count_spans_across_resources_and_scopes(make_span):
    """The index of a refused span counts every span before it, in request order."""
    request = export_request(make_span(), make_span())
    second = request.resource_spans.add()
    second.scope_spans.add().spans.extend([make_span(), make_span(span_id=bytes(8))])

    translation = spans_to_documents(request)

    assert len(translation.documents) == 3
    assert [index for index, _ in translation.rejected] == [3]


def test_an_all_zero_parent_id_means_no_parent(make_span, to_document):
    """OTLP's invalid parent id makes a segment with no parent_id."""
    span = make_span(kind=1, parent_span_id=bytes(8))

    document = to_document(span)

    assert "parent_id" not in document
    assert "type" not in document


def test_span_times_become_float_epoch_seconds(make_span, to_document):
    """Start and end are the floats nearest to the nanoseconds."""
    document = to_document(make_span())

    nearest = [float(Fraction(nanos, 10**9)) for nanos in (START, END)]
    assert [document["start_time"], document["end_time"]] == nearest


@given(st.floats(min_value=1e7, max_value=1e12))
def test_a_document_time_reads_back_as_the_same_float(epoch):
    """Seconds read as nanoseconds and written again are the same float (any time since 1970-04)."""
    assert seconds(nanos(epoch)) == epoch


def test_nanoseconds_a_float_cannot_hold_survive_a_round_trip(make_span, to_span, to_document):
    """The exact nanoseconds travel in metadata.otel."""
    document = to_document(make_span())

    span = to_span(document)

    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (START, END)


def test_recorded_nanoseconds_yield_to_an_edited_time(make_span, to_span, to_document):
    """Exact times are not used once the document's own time no longer rounds to them."""
    document = to_document(make_span())
    document["start_time"] = 1795587800.25

    span = to_span(document)

    assert span.start_time_unix_nano == 1_795_587_800_250_000_000


def test_a_span_with_no_end_is_in_progress(make_span, to_document):
    """end_time_unix_nano 0 is in_progress: true, with no end_time."""
    document = to_document(make_span(end_time_unix_nano=0))

    assert document["in_progress"] is True
    assert "end_time" not in document


def test_a_span_flagged_in_progress_has_no_end_time(make_span, to_document):
    """aws.xray.inprogress, the Collector's receiver's mark of an in-progress segment, wins over
    the end time that receiver had to give the span; the flag is not metadata."""
    span = make_span(attributes={"aws.xray.inprogress": True, "cart.items": 3})

    document = to_document(span)

    assert document["in_progress"] is True
    assert "end_time" not in document
    assert document["metadata"]["default"] == {"cart.items": 3}


def test_a_span_flagged_in_progress_comes_back_with_its_end_and_flag(
    make_span, to_document, to_span
):
    """metadata.otel keeps what the in-progress document leaves out."""
    span = make_span(attributes={"aws.xray.inprogress": True})

    back = to_span(to_document(span))

    assert back.end_time_unix_nano == END
    assert [(item.key, item.value.bool_value) for item in back.attributes] == [
        ("aws.xray.inprogress", True)
    ]


def test_a_span_flagged_not_in_progress_keeps_its_end_time(make_span, to_document):
    """aws.xray.inprogress false is a completed span."""
    document = to_document(make_span(attributes={"aws.xray.inprogress": False}))

    assert (document["end_time"], document.get("in_progress")) == (seconds(END), None)


def test_an_in_progress_document_is_a_span_with_no_end(make_document, to_span):
    """in_progress: true reads back as end_time_unix_nano 0."""
    document = make_document(in_progress=True)

    span = to_span(document)

    assert span.end_time_unix_nano == 0


def test_ids_carry_over_to_the_document(make_span, to_document):
    """The span id is the document id, the parent span id its parent_id, all lowercase hex."""
    span = make_span(kind=3, parent_span_id=bytes.fromhex("00000000000000AA"))

    document = to_document(span)

    assert (document["id"], document["parent_id"], document["trace_id"]) == (
        "0000000000000001",
        "00000000000000aa",
        xray_trace_id(TRACE_ID),
    )
