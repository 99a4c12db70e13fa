"""Annotations and metadata: where attributes no block consumed go, and how they come back."""

import orjson

from fluoroscope.translate.otlp import MAX_ANNOTATIONS_PER_DOCUMENT

from .conftest import attributes_of


def test_indexed_attributes_are_annotations(make_span, to_document):
    """Attributes named in indexed_attributes are annotations, not metadata."""
    span = make_span(attributes={"customer": "acme", "note": "x"})

    document = to_document(span, indexed=frozenset({"customer"}))

    assert document["annotations"] == {"customer": "acme"}
    assert document["metadata"]["default"] == {"note": "x"}


def test_attributes_listed_in_aws_xray_annotations_are_annotations(make_span, to_document):
    """The span's own aws.xray.annotations names them, as the Collector's receiver writes it."""
    span = make_span(attributes={"tier": "gold", "aws.xray.annotations": ["tier"]})

    document = to_document(span)

    assert document["annotations"] == {"tier": "gold"}
    assert "metadata" not in document or "aws.xray.annotations" not in document["metadata"].get(
        "default", {}
    )


def test_annotation_values_keep_their_type(make_span, to_document):
    """Strings, integers, doubles and booleans."""
    values = {"s": "x", "i": 3, "d": 0.25, "b": True}
    span = make_span(attributes=values)

    document = to_document(span, indexed=frozenset(values))

    assert document["annotations"] == values


def test_annotation_keys_keep_only_letters_digits_and_underscores(make_span, to_document):
    """Every other character becomes an underscore, as the exporter writes keys."""
    span = make_span(attributes={"customer.id": "c-1", "état-civil": "x"})

    document = to_document(span, indexed=frozenset({"customer.id", "état-civil"}))

    assert document["annotations"] == {"customer_id": "c-1", "_tat_civil": "x"}


def test_renamed_annotations_come_back_under_their_keys(make_span, to_document, to_span):
    """metadata.otel records the attribute key behind a changed annotation key."""
    span = make_span(attributes={"customer.id": "c-1"})

    back = to_span(to_document(span, indexed=frozenset({"customer.id"})))

    assert attributes_of(back) == {"customer.id": "c-1"}


def test_a_value_that_cannot_be_an_annotation_stays_metadata(make_span, to_document):
    """An array, or a string over 1,000 characters, is never dropped."""
    attributes = {"tags": ["a", "b"], "blob": "x" * 1001}
    span = make_span(attributes=attributes)

    document = to_document(span, indexed=frozenset(attributes))

    assert "annotations" not in document
    assert document["metadata"]["default"] == attributes


def test_a_key_already_taken_stays_metadata(make_span, to_document):
    """a.b and a_b both clean to a_b; the second stays an attribute."""
    span = make_span(attributes={"a.b": 1, "a_b": 2})

    document = to_document(span, indexed=frozenset({"a.b", "a_b"}))

    assert (document["annotations"], document["metadata"]["default"]) == ({"a_b": 1}, {"a_b": 2})


def test_a_document_holds_at_most_fifty_annotations(make_span, to_document):
    """X-Ray indexes 50 per trace; past the limit, attributes stay metadata in order."""
    attributes = {f"k{index:02}": index for index in range(MAX_ANNOTATIONS_PER_DOCUMENT + 2)}
    span = make_span(attributes=attributes)

    document = to_document(span, indexed=frozenset(attributes))

    assert list(document["annotations"]) == list(attributes)[:MAX_ANNOTATIONS_PER_DOCUMENT]
    assert document["metadata"]["default"] == {"k50": 50, "k51": 51}


def test_a_metadata_attribute_is_its_own_namespace(make_span, to_document):
    """aws.xray.metadata.<ns> holding a JSON object is metadata.<ns>."""
    span = make_span(attributes={"aws.xray.metadata.debug": '{"cart": [1, 2]}'})

    metadata = to_document(span)["metadata"]

    assert metadata["debug"] == {"cart": [1, 2]}
    assert "default" not in metadata


def test_a_metadata_attribute_that_is_not_an_object_is_an_ordinary_attribute(
    make_span, to_document
):
    """Only JSON objects make a namespace."""
    span = make_span(attributes={"aws.xray.metadata.debug": "not json"})

    assert to_document(span)["metadata"]["default"] == {"aws.xray.metadata.debug": "not json"}


def test_the_otel_namespace_cannot_be_set_by_an_attribute(make_span, to_document):
    """metadata.otel is Fluoroscope's; the attribute stays ordinary."""
    span = make_span(attributes={"aws.xray.metadata.otel": '{"kind": 9}'})

    document = to_document(span)

    assert document["metadata"]["default"] == {"aws.xray.metadata.otel": '{"kind": 9}'}


def test_attributes_plain_json_cannot_hold_travel_in_metadata_otel(make_span, to_document, to_span):
    """Bytes are not metadata.default's to hold, but are never dropped."""
    span = make_span(attributes={"payload": b"\x00\x01"})

    document = to_document(span)
    back = to_span(document)

    assert "default" not in document["metadata"]
    assert attributes_of(back) == {"payload": b"\x00\x01"}


def test_annotations_read_back_as_attributes_and_their_list(make_document, to_span):
    """As the Collector's receiver reads them."""
    document = make_document(annotations={"customer": "acme", "count": 3})

    assert attributes_of(to_span(document)) == {
        "customer": "acme",
        "count": 3,
        "aws.xray.annotations": ["customer", "count"],
    }


def test_metadata_reads_back_as_attributes(make_document, to_span):
    """default keys are attributes; other namespaces are aws.xray.metadata.<ns> JSON."""
    document = make_document(metadata={"default": {"note": "x"}, "debug": {"cart": [1, 2]}})

    attributes = attributes_of(to_span(document))

    assert attributes["note"] == "x"
    assert orjson.loads(attributes["aws.xray.metadata.debug"]) == {"cart": [1, 2]}
