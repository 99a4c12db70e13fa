"""Stored documents' JSON read and written back, numbers orjson cannot hold included."""

import json

import orjson

from fluoroscope.translate import json_codec


def test_ordinary_json_reads_and_writes_as_orjson_does() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": -(2**63)}}

    assert json_codec.loads(orjson.dumps(value)) == value
    assert json_codec.dumps(value) == orjson.dumps(value)


def test_an_integer_past_a_double_survives_the_round_trip_exactly() -> None:
    """orjson refuses 400 digits; they come back as they went in."""
    text = b'{"n":' + b"9" * 400 + b"}"

    value = json_codec.loads(text)

    assert value == {"n": int("9" * 400)}
    assert json_codec.dumps(value) == text


def test_numbers_no_double_or_python_text_can_hold_are_read_as_null() -> None:
    """1e400 and integers past Python's 4,300 digits read as infinity, written as null, as
    orjson writes an infinity: never an error that would lose the document."""
    for text in (b'{"n":1e400,"m":' + b"7" * 30 + b"}", b'{"n":' + b"9" * 5000 + b',"m":1}'):
        written = json_codec.dumps(json_codec.loads(text))

        assert json.loads(written)["n"] is None
