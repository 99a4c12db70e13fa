"""Framing of X-Ray daemon datagrams (xray-protocol.md 2.1-2.3)."""

import pytest

from fluoroscope.receivers.xray_udp import REFUSAL_REASONS, frame

BODY = b'{"id": "0000000000000001", "name": "checkout"}'


def test_golden_datagrams_frame_to_their_documents(golden):
    """What the SDK sends is the header, a newline and the document, untouched."""
    datagrams = golden.datagrams

    documents = [frame(datagram) for datagram in datagrams]

    assert documents == golden.bodies
    assert all(datagram.startswith(b'{"format":"json","version":1}\n') for datagram in datagrams)


def test_the_sdk_header_spelling_is_accepted():
    """The SDKs write the header without spaces."""
    datagram = b'{"format":"json","version":1}\n' + BODY

    document = frame(datagram)

    assert document == BODY


def test_the_developer_guide_header_spelling_is_accepted():
    """The developer guide and the daemon README write it with spaces."""
    datagram = b'{"format": "json", "version": 1}\n' + BODY

    document = frame(datagram)

    assert document == BODY


@pytest.mark.parametrize(
    "header",
    [
        b'{"format":"json","version":1,"extra":"ignored"}',
        b'{"version":1,"format":"json"}',
        b'  {\t"format" :  "json" ,\n"version":1 }  ',
        b'{"format":"json","version":1}\r',
        b'{"format":"json","version":1,"format":"json"}',
    ],
)
def test_a_header_with_extra_keys_or_whitespace_is_accepted(header):
    """The header goes through a JSON parser, so any JSON spelling of it passes."""
    datagram = header.replace(b"\n", b" ") + b"\n" + BODY

    document = frame(datagram)

    assert document == BODY


@pytest.mark.parametrize("fmt", [b"JSON", b"Json", b"jSoN"])
def test_the_format_value_is_compared_ignoring_case(fmt):
    """``format`` equals ``json`` ignoring case, as the daemon's EqualFold."""
    datagram = b'{"format":"' + fmt + b'","version":1}\n' + BODY

    document = frame(datagram)

    assert document == BODY


def test_the_header_keys_are_matched_ignoring_case():
    """Go's encoding/json matches ``Format``/``VERSION`` to the ``format``/``version`` tags."""
    datagram = b'{"Format":"json","VERSION":1}\n' + BODY

    document = frame(datagram)

    assert document == BODY


@pytest.mark.parametrize(
    "version", [b'"1"', b"true", b"1.0", b"2", b"0", b"-1", b"null", b"[1]", b"1e0"]
)
def test_a_version_other_than_the_integer_1_is_refused(version):
    """Go unmarshals only the integer 1 into the daemon's ``int`` version."""
    datagram = b'{"format":"json","version":' + version + b"}\n" + BODY

    result = frame(datagram)

    assert result == "bad_header"


@pytest.mark.parametrize(
    "header",
    [
        b'{"version":1}',
        b'{"format":"xml","version":1}',
        b'{"format":"json ","version":1}',
        b'{"format":1,"version":1}',
        b'{"format":null,"version":1}',
        b'["json",1]',
        b"json 1",
        b'{"format":"json","version":1',
        b'{"format":"json","version":1} trailing',
        b"",
    ],
)
def test_a_header_that_is_not_the_json_version_1_object_is_refused(header):
    """Anything but ``{"format": "json", "version": 1}`` (as JSON) is a bad header."""
    datagram = header + b"\n" + BODY

    result = frame(datagram)

    assert result == "bad_header"


def test_a_datagram_without_a_newline_is_refused():
    """Header and document are separated by a newline."""
    datagram = b'{"format":"json","version":1}' + BODY

    result = frame(datagram)

    assert result == "no_header"


def test_an_empty_datagram_is_refused():
    """Nothing at all has no header either."""
    result = frame(b"")

    assert result == "no_header"


@pytest.mark.parametrize("body", [b"", b" ", b"\n", b"\t\r\n "])
def test_a_datagram_with_an_empty_body_is_refused(body):
    """A header with nothing (or only whitespace) after it carries no document."""
    datagram = b'{"format":"json","version":1}\n' + body

    result = frame(datagram)

    assert result == "no_header"


def test_the_header_is_cut_at_the_first_newline_only():
    """Newlines inside the document stay in the document."""
    body = b'{"id": "0000000000000001",\n "name": "checkout"\n}\n'
    datagram = b'{"format":"json","version":1}\n' + body

    document = frame(datagram)

    assert document == body


def test_a_header_split_by_a_newline_is_refused():
    """A newline inside the header cuts it short, so what precedes it is not valid JSON."""
    datagram = b'{"format":"json",\n"version":1}\n' + BODY

    result = frame(datagram)

    assert result == "bad_header"


def test_refusal_reasons_are_the_counted_ones():
    """Every reason frame() gives has a counter."""
    reasons = {frame(b"no newline"), frame(b"bad\n" + BODY)}

    assert reasons <= set(REFUSAL_REASONS)
