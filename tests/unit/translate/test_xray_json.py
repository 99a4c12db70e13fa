"""Validation of X-Ray segment documents (xray-protocol.md 4.1-4.6, 7.5)."""

from typing import Any

import orjson
import pytest

from fluoroscope.errors import DocumentError
from fluoroscope.translate.xray_json import (
    MAX_DOCUMENT_BYTES,
    MAX_SUBSEGMENT_DEPTH,
    parse_document,
    parse_views,
)

TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
DOC_ID = "0000000000000001"


def refusal(document: dict[str, Any] | list[Any] | bytes) -> DocumentError:
    """Parse a document that must be refused, and return the refusal."""
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    with pytest.raises(DocumentError) as info:
        parse_document(raw)
    return info.value


def nested(levels: int) -> bytes:
    """A segment with a chain of ``levels`` subsegments, each nested in the previous one."""
    entity = '{"id":"%016x","name":"n","start_time":1,"end_time":2'
    parts = [entity % 0 + f',"trace_id":"{TRACE_ID}","subsegments":[']
    parts += [entity % level + ',"subsegments":[' for level in range(1, levels)]
    parts.append(entity % levels + "}")
    parts.append("]}" * levels)
    return "".join(parts).encode()


# --- golden captures -------------------------------------------------------------------------


def test_golden_documents_yield_the_expected_views(golden):
    """Every captured document is accepted, with the top-level views the capture expects."""
    expected = [step["views"] for step in golden.expected["datagrams"]]

    views = [
        [
            {
                "id": document.id,
                "type": document.view().type or "segment",
                "parent_id": document.view().parent_id,
                "in_progress": document.view().in_progress,
            }
            for document in parse_document(body)
        ]
        for body in golden.bodies
    ]

    assert views == expected


def test_views_parsed_directly_are_those_the_documents_decode_to(golden, make_document):
    """parse_views validates as parse_document does and gives the views documents decode to."""
    sub = make_document(id="00000000000000a1", in_progress=True, end_time=1795579418.0)
    bodies = [
        *golden.bodies,
        orjson.dumps(make_document(trace_id=TRACE_ID.upper(), subsegments=[sub])),
    ]

    for body in bodies:
        assert parse_views(body) == [document.view() for document in parse_document(body)]
    with pytest.raises(DocumentError):
        parse_views(orjson.dumps(make_document(trace_id="1-0-0")))


def test_golden_documents_carry_their_trace_id(golden):
    """Every view of a capture belongs to the capture's trace."""
    documents = golden.documents()

    trace_ids = {document.trace_id for document in documents}

    assert trace_ids == {golden.expected["trace_id"]}


def test_golden_documents_keep_their_bytes_as_received(golden):
    """A view's raw bytes are the document exactly as it arrived."""
    bodies = golden.bodies

    raws = [view.raw for body in bodies for view in parse_document(body)]

    assert raws == bodies


def test_embedded_subsegments_are_walked_depth_first(golden_named):
    """The SDK's embedded subsegments (with type, trace_id and parent_id) are part of the view."""
    (document,) = golden_named("full").documents()

    names = [entity.name for entity in document.view().walk()]

    assert names == ["checkout", "payments.example.com", "DynamoDB", "compute_total"]


# --- accepted forms --------------------------------------------------------------------------


def test_in_progress_without_end_time_is_accepted(make_document, parse):
    """An in-progress document needs no end_time."""
    document = make_document(in_progress=True)

    view = parse(document).view()

    assert view.in_progress
    assert view.end_time is None


def test_in_progress_false_with_end_time_is_accepted(make_document, parse):
    """The SDK's form, ``in_progress: false`` beside ``end_time``, is a completed document."""
    document = make_document(in_progress=False, end_time=1795579417.25)

    view = parse(document).view()

    assert not view.in_progress
    assert view.end_time == 1795579417.25


def test_in_progress_wins_over_an_end_time(make_document, parse):
    """A document both in progress and ended is in progress, with no end time."""
    document = make_document(in_progress=True, end_time=1795579418.0)

    view = parse(document).view()

    assert view.in_progress
    assert view.end_time is None


def test_an_embedded_subsegment_in_progress_has_no_end_time(make_document, parse):
    """The view decoded again from a document's bytes is the one the validator accepted."""
    sub = make_document(id="00000000000000a1", in_progress=True, end_time=1795579418.0)
    document = make_document(trace_id=TRACE_ID.upper(), subsegments=[sub])

    parsed = parse(document)
    view = parsed.view()

    assert (parsed.trace_id, view.trace_id) == (TRACE_ID, TRACE_ID)
    assert (parsed.in_progress, view.end_time) == (False, document["end_time"])
    assert [(s.in_progress, s.end_time) for s in view.subsegments] == [(True, None)]


def test_end_time_equal_to_start_time_is_accepted(make_document, parse):
    """A zero-length entity is valid."""
    document = make_document(start_time=1795579417.0, end_time=1795579417.0)

    view = parse(document).view()

    assert view.end == 1795579417.0


@pytest.mark.parametrize(
    "trace_id",
    [
        "1-00000000-5f0c9e2a3b7d41c2e8a9f061",
        "1-ffffffff-5f0c9e2a3b7d41c2e8a9f061",
        "1-5f0c9e2a-3b7d41c2e8a9f0617d24b5c8",
        "1-6b065e19-000000000000000000000001",
    ],
)
def test_trace_ids_are_accepted_whatever_their_epoch(make_document, parse, trace_id):
    """W3C-born ids carry a random epoch part, so it is never checked."""
    document = make_document(trace_id=trace_id)

    view = parse(document).view()

    assert view.trace_id == trace_id


def test_trace_ids_are_kept_lowercase(make_document, parse):
    """An upper-case trace id is the same trace as its lower-case form."""
    document = make_document(trace_id="1-6B065E19-DE34471773FB7A0C55F48339")

    view = parse(document).view()

    assert view.trace_id == TRACE_ID


def test_embedded_subsegments_with_type_trace_id_and_parent_id_are_accepted(make_document, parse):
    """Embedded subsegments may carry the fields of independent ones, as the Python SDK sends."""
    sub = make_document(id="00000000000000a1", type="subsegment", parent_id=DOC_ID)
    document = make_document(id=DOC_ID, subsegments=[sub])

    view = parse(document).view()

    assert not view.independent
    assert [s.id for s in view.subsegments] == ["00000000000000a1"]


def test_cause_may_be_an_object(make_document, parse):
    """``cause`` as an object lists the exceptions."""
    cause = {
        "working_directory": "/srv",
        "exceptions": [{"id": "34e0b1ff54c5a634", "type": "ValueError", "message": "boom"}],
    }
    document = make_document(cause=cause, fault=True)

    view = parse(document).view()

    assert view.cause.exceptions[0].type == "ValueError"


def test_cause_may_be_an_exception_id(make_document, parse):
    """``cause`` as a string is the 16-hex id of an exception recorded elsewhere."""
    document = make_document(cause="34e0b1ff54c5a634")

    view = parse(document).view()

    assert view.cause == "34e0b1ff54c5a634"


@pytest.mark.parametrize(
    "name",
    [
        "checkout",
        "api.example.com:8443/orders",
        "a_b.c:d/e%f&g#h=i+j\\k-l@m",
        "with space\tand tab",
        "Zürich 東京",
        "comma, allowed",
        "x" * 200,
    ],
)
def test_names_of_allowed_characters_are_accepted(make_document, parse, name):
    """Letters, digits, whitespace and ``_ . : / % & # = + \\ - @ ,``, up to 200 characters."""
    document = make_document(name=name)

    view = parse(document).view()

    assert view.name == name


def test_annotations_of_every_type_are_accepted(make_document, parse):
    """Annotation values may be strings, integers, floats and booleans."""
    annotations = {"customer": "acme", "count": 3, "ratio": 0.25, "vip": True, "Key_2": ""}
    document = make_document(annotations=annotations)

    view = parse(document).view()

    assert view.annotations == annotations


def test_a_document_of_exactly_64_kib_is_accepted(make_document):
    """The limit is inclusive."""
    document = make_document(metadata={"pad": {"x": ""}})
    filler = MAX_DOCUMENT_BYTES - len(orjson.dumps(document))
    document["metadata"]["pad"]["x"] = "a" * filler
    raw = orjson.dumps(document)

    (document,) = parse_document(raw)

    assert len(raw) == MAX_DOCUMENT_BYTES
    assert document.size == MAX_DOCUMENT_BYTES


def test_subsegments_nested_up_to_the_bound_are_accepted():
    """Nesting exactly MAX_SUBSEGMENT_DEPTH levels deep is allowed."""
    raw = nested(MAX_SUBSEGMENT_DEPTH)

    (document,) = parse_document(raw)

    assert len(document.view().walk()) == MAX_SUBSEGMENT_DEPTH + 1


def test_an_array_of_independent_subsegments_yields_one_view_each(make_document):
    """The PutTraceSegments array form: each item is its own document, with its own bytes."""
    items = [
        make_document(type="subsegment", parent_id="00000000000000ff"),
        make_document(type="subsegment", parent_id="00000000000000ff"),
    ]
    raw = orjson.dumps(items)

    views = parse_document(raw)

    assert [v.id for v in views] == [items[0]["id"], items[1]["id"]]
    assert [orjson.loads(v.raw) for v in views] == items
    assert [v.size for v in views] == [len(v.raw) for v in views]


# --- refusals: ids ---------------------------------------------------------------------------


def test_a_missing_id_is_refused_as_missing_id(make_document):
    """No id: MissingId, and no id to report."""
    document = make_document(omit=["id"])

    error = refusal(document)

    assert error.code == "MissingId"
    assert error.doc_id is None


@pytest.mark.parametrize(
    "bad_id", ["", "xyz", "000000000000001", "00000000000000001", "g000000000000001", 1, None]
)
def test_an_id_not_of_16_hex_digits_is_refused_as_invalid_id(make_document, bad_id):
    """Entity ids are exactly 16 hex digits."""
    document = make_document(id=bad_id)

    error = refusal(document)

    assert error.code == "InvalidId"


def test_a_missing_subsegment_id_is_refused_as_missing_id(make_document):
    """An embedded subsegment needs an id too; the document's own id is reported."""
    sub = make_document(omit=["id"])
    document = make_document(id=DOC_ID, subsegments=[sub])

    error = refusal(document)

    assert error.code == "MissingId"
    assert error.doc_id == DOC_ID


def test_a_subsegment_id_not_of_hex_digits_is_refused_with_the_documents_id(make_document):
    """Ids are checked at every depth; the refusal names the document by its own id."""
    sub = make_document(id="zzzzzzzzzzzzzzzz")
    document = make_document(id=DOC_ID, subsegments=[sub])

    error = refusal(document)

    assert error.code == "InvalidId"
    assert error.doc_id == DOC_ID


def test_a_document_whose_own_id_is_not_hex_reports_no_id(make_document):
    """An id that is not an id is not reported as one."""
    document = make_document(id="g000000000000001")

    error = refusal(document)

    assert error.code == "InvalidId"
    assert error.doc_id is None


def test_a_subsegment_with_a_malformed_trace_id_is_refused(make_document):
    """A trace id carried by an embedded subsegment has the trace id format too."""
    sub = make_document(trace_id="1-6b065e19-de34471773fb7a0c55f4833g")
    document = make_document(id=DOC_ID, subsegments=[sub])

    error = refusal(document)

    assert error.code == "InvalidTraceId"
    assert error.doc_id == DOC_ID


@pytest.mark.parametrize("parent_id", ["not-an-id", "000000000000000g"])
def test_an_invalid_parent_id_is_refused(make_document, parent_id):
    """parent_id has the id format."""
    document = make_document(type="subsegment", parent_id=parent_id)

    error = refusal(document)

    assert error.code == "InvalidParentId"


def test_a_parent_id_naming_the_entity_itself_is_refused(make_document):
    """An entity cannot be its own parent: it would be folded under itself and never shown."""
    document = make_document(id=DOC_ID, type="subsegment", parent_id=DOC_ID)

    error = refusal(document)

    assert error.code == "InvalidParentId"
    assert error.doc_id == DOC_ID


def test_an_id_used_twice_in_one_document_is_refused(make_document):
    """Entities are found, replaced and folded by id: within a trace, ids are unique."""
    child = {"id": "00000000000000c1", "name": "db", "start_time": 1.0, "end_time": 2.0}
    twin = {**child, "name": "db-again"}
    itself = {**child, "id": DOC_ID}

    for subsegments in ([child, twin], [{**child, "subsegments": [twin]}], [itself]):
        error = refusal(make_document(id=DOC_ID, subsegments=subsegments))
        assert error.code == "DuplicateId"
        assert error.doc_id == DOC_ID


def test_an_independent_subsegment_without_parent_id_is_refused(make_document):
    """``type: subsegment`` on its own needs the parent it belongs under."""
    document = make_document(id=DOC_ID, type="subsegment")

    error = refusal(document)

    assert error.code == "MissingParentId"
    assert error.doc_id == DOC_ID


def test_a_type_other_than_subsegment_is_refused(make_document):
    """``type`` is either absent or the literal ``subsegment``."""
    document = make_document(type="segment", parent_id="00000000000000ff")

    error = refusal(document)

    assert error.code == "InvalidSegment"


# --- refusals: names -------------------------------------------------------------------------


def test_a_missing_name_is_refused(make_document):
    """Every entity is named."""
    document = make_document(omit=["name"])

    error = refusal(document)

    assert error.code == "MissingName"


@pytest.mark.parametrize("name", ["", "x" * 201, 42])
def test_a_name_empty_too_long_or_not_a_string_is_refused(make_document, name):
    """Names are 1-200 characters."""
    document = make_document(name=name)

    error = refusal(document)

    assert error.code == "InvalidName"


@pytest.mark.parametrize("char", [*"?;*()!$~^<>\"'[]{}|`", "\x00"])
def test_a_name_with_a_character_outside_the_set_is_refused(make_document, char):
    """Characters the developer guide does not allow make the name invalid."""
    document = make_document(id=DOC_ID, name=f"bad{char}name")

    error = refusal(document)

    assert error.code == "InvalidName"
    assert error.doc_id == DOC_ID


def test_a_bad_subsegment_name_refuses_the_document(make_document):
    """Names are checked at every depth; the refusal carries the top-level id."""
    sub = make_document(name="bad?name")
    document = make_document(id=DOC_ID, subsegments=[make_document(subsegments=[sub])])

    error = refusal(document)

    assert error.code == "InvalidName"
    assert error.doc_id == DOC_ID


# --- refusals: trace ids ---------------------------------------------------------------------


def test_a_segment_without_trace_id_is_refused(make_document):
    """Top-level documents name their trace."""
    document = make_document(id=DOC_ID, omit=["trace_id"])

    error = refusal(document)

    assert error.code == "MissingTraceId"
    assert error.doc_id == DOC_ID


def test_an_independent_subsegment_without_trace_id_is_refused(make_document):
    """A subsegment sent on its own names its trace too."""
    document = make_document(type="subsegment", parent_id="00000000000000ff", omit=["trace_id"])

    error = refusal(document)

    assert error.code == "MissingTraceId"


@pytest.mark.parametrize(
    "trace_id",
    [
        "",
        "2-6b065e19-de34471773fb7a0c55f48339",
        "1-6b065e1-de34471773fb7a0c55f483391",
        "1-6b065e19-de34471773fb7a0c55f4833",
        "1-6b065e19-de34471773fb7a0c55f483390",
        "1-6b065e19de34471773fb7a0c55f48339",
        "1-6b065e19-de34471773fb7a0c55f4833g",
        "6b065e19de34471773fb7a0c55f48339",
        "Root=1-6b065e19-de34471773fb7a0c55f48339",
        12345,
    ],
)
def test_a_malformed_trace_id_is_refused(make_document, trace_id):
    """Trace ids are ``1-`` + 8 hex + ``-`` + 24 hex."""
    document = make_document(id=DOC_ID, trace_id=trace_id)

    error = refusal(document)

    assert error.code == "InvalidTraceId"
    assert error.doc_id == DOC_ID


def test_the_all_zero_no_op_trace_id_is_refused(make_document):
    """The SDK's no-op id marks an unsampled request, never a trace."""
    document = make_document(id=DOC_ID, trace_id="1-00000000-000000000000000000000000")

    error = refusal(document)

    assert error.code == "InvalidTraceId"
    assert error.doc_id == DOC_ID


# --- refusals: times -------------------------------------------------------------------------


def test_a_missing_start_time_is_refused(make_document):
    """Every entity has a start time."""
    document = make_document(omit=["start_time"])

    error = refusal(document)

    assert error.code == "MissingStartTime"


@pytest.mark.parametrize("start", ["1795579417.0", 0, -1.5, True, 1e12, None, [1]])
def test_a_start_time_not_a_positive_epoch_number_is_refused(make_document, start):
    """Times are positive epoch seconds."""
    document = make_document(start_time=start, end_time=1e12 + 1)

    error = refusal(document)

    assert error.code == "InvalidStartTime"


def test_in_progress_false_without_end_time_is_refused(make_document):
    """A completed document needs its end time."""
    document = make_document(id=DOC_ID, in_progress=False, omit=["end_time"])

    error = refusal(document)

    assert error.code == "MissingEndTime"
    assert error.doc_id == DOC_ID


def test_neither_end_time_nor_in_progress_is_refused(make_document):
    """One of end_time and in_progress is required."""
    document = make_document(omit=["end_time"])

    error = refusal(document)

    assert error.code == "MissingEndTime"


@pytest.mark.parametrize("end", ["soon", -1, True, [2]])
def test_an_end_time_not_a_positive_number_is_refused(make_document, end):
    """end_time has the time format."""
    document = make_document(end_time=end)

    error = refusal(document)

    assert error.code == "InvalidEndTime"


def test_an_end_before_the_start_is_refused(make_document):
    """Time runs forward."""
    document = make_document(id=DOC_ID, start_time=1795579417.5, end_time=1795579417.0)

    error = refusal(document)

    assert error.code == "InvalidEndTime"
    assert error.doc_id == DOC_ID


def test_a_subsegment_ending_before_it_starts_refuses_the_document(make_document):
    """Times are checked at every depth."""
    sub = make_document(start_time=1795579417.5, end_time=1795579417.0)
    document = make_document(id=DOC_ID, subsegments=[sub])

    error = refusal(document)

    assert error.code == "InvalidEndTime"
    assert error.doc_id == DOC_ID


def test_an_embedded_subsegment_without_end_time_is_refused(make_document):
    """Embedded subsegments follow the same end_time rule."""
    sub = make_document(omit=["end_time"])
    document = make_document(subsegments=[sub])

    error = refusal(document)

    assert error.code == "MissingEndTime"


# --- refusals: cause and annotations ---------------------------------------------------------


@pytest.mark.parametrize(
    "cause",
    ["boom", "34e0b1ff54c5a63", "34e0b1ff54c5a634a", 42, True, ["34e0b1ff54c5a634"]],
)
def test_a_cause_neither_an_object_nor_an_exception_id_is_refused(make_document, cause):
    """A string cause is a 16-character exception id; anything else but an object is invalid."""
    document = make_document(cause=cause)

    error = refusal(document)

    assert error.code == "InvalidCause"


def test_a_cause_id_need_not_be_hex(make_document):
    """The developer guide says only "16 character exception ID", and the Collector's X-Ray
    receiver takes any: the id refers to an exception elsewhere in the trace."""
    document = make_document(cause="abcdefghijklmnop")

    (parsed,) = parse_document(orjson.dumps(document))

    assert parsed.id == document["id"]


def test_a_cause_object_with_malformed_exceptions_is_refused(make_document):
    """``cause.exceptions`` is a list of exception objects."""
    document = make_document(cause={"exceptions": "boom"})

    error = refusal(document)

    assert error.code == "InvalidCause"


@pytest.mark.parametrize("key", ["bad-key", "a.b", "aws:api_id", "", "k" * 501, "naïve"])
def test_an_annotation_x_ray_cannot_index_costs_its_document_nothing(make_document, key):
    """X-Ray keeps a document whose annotation keys are outside ``[A-Za-z0-9_]`` (its own API
    Gateway and Lambda segments carry ``aws:`` keys) and drops those annotations: the document
    is accepted as sent, and the summary leaves them out of the index."""
    document = make_document(annotations={"good_key": 1, key: 1})

    (parsed,) = parse_document(orjson.dumps(document))

    assert orjson.loads(parsed.raw)["annotations"] == {"good_key": 1, key: 1}


@pytest.mark.parametrize("value", ["null", "[1]", '{"a": 1}', '"' + "v" * 1001 + '"', "9" * 400])
def test_an_annotation_value_of_another_type_costs_its_document_nothing(make_document, value):
    """Values X-Ray cannot index (not a string of at most 1,000 characters, a number a double
    holds or a boolean) are accepted in the document, as such keys are."""
    document = orjson.dumps(make_document(annotations={"other": "kept"}))
    raw = document.replace(b'"annotations":{', b'"annotations":{"key":' + value.encode() + b",")

    (parsed,) = parse_document(raw)

    assert parsed.raw == raw


def test_annotations_that_are_not_an_object_are_refused(make_document):
    """``annotations`` is a key-value object."""
    document = make_document(annotations=["key", 1])

    error = refusal(document)

    assert error.code == "InvalidAnnotation"


# --- refusals: size, nesting, JSON -----------------------------------------------------------


def test_a_document_over_64_kib_is_refused_with_its_id(make_document):
    """The size limit is checked before parsing; the id is found by pattern."""
    document = make_document(id=DOC_ID, metadata={"pad": {"x": ""}})
    document["metadata"]["pad"]["x"] = "a" * (MAX_DOCUMENT_BYTES - len(orjson.dumps(document)) + 1)

    error = refusal(document)

    assert error.code == "DocumentTooLarge"
    assert error.doc_id == DOC_ID


def test_subsegments_nested_past_the_bound_are_refused():
    """One level beyond MAX_SUBSEGMENT_DEPTH is too deep."""
    raw = nested(MAX_SUBSEGMENT_DEPTH + 1)

    error = refusal(raw)

    assert error.code == "NestingTooDeep"
    assert error.doc_id == "0000000000000000"


def test_nesting_deep_enough_to_exhaust_the_decoder_is_refused():
    """Nesting that the JSON decoder cannot follow is refused the same way, not raised."""
    raw = nested(700)

    error = refusal(raw)

    assert len(raw) <= MAX_DOCUMENT_BYTES
    assert error.code == "NestingTooDeep"


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"id": "0000000000000001", "name": "x",}', b"\xff\xfe"],
)
def test_text_that_is_not_json_is_refused(raw):
    """Bad JSON is a JSONFormatError."""
    error = refusal(raw)

    assert error.code == "JSONFormatError"


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"caf\xe9"])
def test_bytes_that_are_not_utf_8_are_refused_even_where_nothing_reads_them(make_document, bad):
    """JSON is UTF-8: bad bytes inside metadata, which the decoder skips, refuse it too."""
    raw = orjson.dumps(make_document(metadata={"default": {"blob": "MARK"}}))

    error = refusal(raw.replace(b"MARK", bad))

    assert error.code == "JSONFormatError"
    assert "UTF-8" in error.detail
    assert error.doc_id == DOC_ID


def test_text_in_any_script_is_accepted_as_received(make_document):
    """UTF-8 beyond ASCII is valid JSON, and the document keeps its bytes."""
    raw = orjson.dumps(make_document(metadata={"default": {"city": "Zürich 東京 🚀"}}))

    (document,) = parse_document(raw)

    assert document.raw == raw


@pytest.mark.parametrize("status", [2**63, 2**64 - 1])
def test_an_http_status_beyond_64_bits_is_refused(make_document, status):
    """The store keeps statuses as 64-bit integers; a larger one is no HTTP status."""
    error = refusal(make_document(http={"response": {"status": status}}))

    assert error.code == "InvalidSegment"


def test_bad_json_reports_the_id_found_by_pattern():
    """Like the daemon, the id is looked for with a pattern when the JSON cannot be read."""
    raw = b'{"id": "0000000000000001", "name": "checkout", "start_time": 1.0,'

    error = refusal(raw)

    assert error.code == "JSONFormatError"
    assert error.doc_id == DOC_ID


@pytest.mark.parametrize("raw", [b'"segment"', b"42", b"null", b"true"])
def test_json_that_is_neither_object_nor_array_is_refused(raw):
    """A document is an object, or an array of objects."""
    error = refusal(raw)

    assert error.code == "InvalidSegment"


def test_an_empty_array_is_refused_as_missing_id():
    """``[]`` holds no subsegment: X-Ray answers MissingId."""
    error = refusal(b"[]")

    assert error.code == "MissingId"
    assert error.doc_id is None


def test_an_array_item_that_is_not_an_independent_subsegment_is_refused(make_document):
    """Only independent subsegments may be sent as an array."""
    items = [make_document(id=DOC_ID)]

    error = refusal(items)

    assert error.code == "InvalidSegment"
    assert error.doc_id == DOC_ID


def test_an_invalid_array_item_refuses_the_array_with_its_own_id(make_document):
    """The refusal names the item that failed."""
    good = make_document(type="subsegment", parent_id="00000000000000ff")
    bad = make_document(id="00000000000000b2", type="subsegment", parent_id="00000000000000ff")
    bad["end_time"] = bad["start_time"] - 1

    error = refusal([good, bad])

    assert error.code == "InvalidEndTime"
    assert error.doc_id == "00000000000000b2"


def test_a_non_object_array_item_is_refused():
    """Array items are subsegment objects."""
    error = refusal(b"[1]")

    assert error.code == "InvalidSegment"


def test_refusals_after_decoding_carry_the_document_id(make_document):
    """Senders match refusals to their documents by id (xray-protocol.md 7.5)."""
    document = make_document(id="6226467e3f845502", trace_id="1-00000000-000000000000000000000000")

    error = refusal(document)

    assert error.doc_id == "6226467e3f845502"


def test_refusals_while_decoding_carry_the_id_found_by_pattern(make_document):
    """When a field fails to decode, the document's id is still reported."""
    document = make_document(id="6226467e3f845502", start_time="yesterday")

    error = refusal(document)

    assert error.code == "InvalidStartTime"
    assert error.doc_id == "6226467e3f845502"


def test_an_inferred_segment_is_valid_and_yields_nothing(make_document):
    """What BatchGetTraces makes for a downstream call is accepted back, and not kept: its
    call makes it again."""
    document = make_document(parent_id="00000000000000d0", inferred=True)

    assert parse_document(orjson.dumps(document)) == []
