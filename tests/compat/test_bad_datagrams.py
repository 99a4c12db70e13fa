"""Garbage on the UDP port, interleaved with valid datagrams: refused, counted, and harmless.

The largest UDP payload IPv4 carries is 65,507 bytes, so a document over the 64 KiB limit
cannot arrive over UDP at all (the sender's ``sendto`` fails with EMSGSIZE); the largest
datagram that can arrive is among the valid ones instead.
"""

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from tests.compat.documents import HEADER, datagram, dumps, new_id, segment
from tests.compat.process import Collector, Metrics
from tests.compat.queries import (
    the_document,
    wait_for_metric,
    wait_for_trace,
    wait_for_traces,
    xray_client,
)

MAX_IPV4_DATAGRAM = 65_507
VALID_DATAGRAMS = 12
ACCEPTED = "fluoroscope_documents_accepted_total"


def _largest_valid_datagram() -> tuple[dict[str, Any], bytes]:
    document = segment(metadata={"default": {"blob": ""}})
    room = MAX_IPV4_DATAGRAM - len(datagram(document))
    document["metadata"]["default"]["blob"] = "x" * room
    return document, datagram(document)


def _nested(depth: int) -> dict[str, Any]:
    document = segment()
    parent = document
    for _ in range(depth):
        child = {"id": new_id(), "name": "level", "start_time": document["start_time"]}
        child["end_time"] = document["end_time"]
        parent["subsegments"] = [child]
        parent = child
    return document


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in segment().items() if k != key}


def _unframed() -> list[tuple[bytes, str]]:
    """Datagrams refused before parsing, with the reason they are counted under."""
    noise = random.Random(2000).randbytes(300).replace(b"\n", b"")
    document = dumps(segment()).encode()
    return [
        (noise[:200], "no_header"),
        (HEADER, "no_header"),
        (HEADER + b"\n", "no_header"),
        (HEADER + b"\n \t\r\n", "no_header"),
        (b"{format: json, version: 1}\n" + document, "bad_header"),
        (b'{"format":"json","version":"1"}\n' + document, "bad_header"),
        (b'{"format":"json","version":1.0}\n' + document, "bad_header"),
        (b'{"format":"json","version":2}\n' + document, "bad_header"),
        (b'{"format":"xml","version":1}\n' + document, "bad_header"),
        (b"[]\n" + document, "bad_header"),
        (noise[200:] + b"\n" + document, "bad_header"),
    ]


def _invalid() -> list[tuple[bytes, str]]:
    """Framed datagrams whose document is refused, with its X-Ray error code."""
    noise = random.Random(2001).randbytes(300)
    return [
        (HEADER + b"\nthis is not json", "JSONFormatError"),
        (HEADER + b"\n" + noise, "JSONFormatError"),
        (HEADER + b'\n{"id": "0123456789abcdef", "name": ', "JSONFormatError"),
        (datagram(None), "InvalidSegment"),
        (datagram("a string"), "InvalidSegment"),
        (datagram([1, "two", None]), "InvalidSegment"),
        (datagram([segment()]), "InvalidSegment"),
        (datagram([]), "MissingId"),
        (datagram(_without("id")), "MissingId"),
        (datagram({**segment(), "trace_id": "1-xyz"}), "InvalidTraceId"),
        (datagram({**segment(), "name": "check<out>"}), "InvalidName"),
        (datagram(_without("end_time")), "MissingEndTime"),
        (datagram({**segment(), "end_time": 1.0}), "InvalidEndTime"),
        (datagram({**segment(), "type": "subsegment"}), "MissingParentId"),
        (datagram({**segment(), "annotations": ["bad", 1]}), "InvalidAnnotation"),
        (datagram(_nested(70)), "NestingTooDeep"),
        # Bytes that are not UTF-8 where the decoder reads nothing, and a status too wide for
        # the store: each once stopped the pipeline or the writer, and all that came after.
        (_not_utf8(), "JSONFormatError"),
        (datagram({**segment(), "http": {"response": {"status": 2**64 - 1}}}), "InvalidSegment"),
    ]


def _not_utf8() -> bytes:
    document = datagram(segment(metadata={"default": {"blob": "MARK"}}))
    return document.replace(b"MARK", b"\xff\xfe")


def _valid() -> list[tuple[bytes, dict[str, Any]]]:
    """Datagrams the collector must store, with their documents; header variants included."""
    largest, payload = _largest_valid_datagram()
    pairs = [(payload, largest)]
    for header in (
        HEADER,
        b'{"format": "json", "version": 1}',
        b'{"version":1,"format":"JSON","extra":true}',
    ):
        document = segment()
        pairs.append((datagram(document, header=header), document))
    # API Gateway's own segments carry annotations X-Ray cannot index; X-Ray keeps them.
    gateway = segment(
        name="orders-api/prod",
        origin="AWS::ApiGateway::Stage",
        annotations={"aws:api_id": "a1b2c3", "aws:api_stage": "prod", "grpc.status_code": 0},
    )
    pairs.append((datagram(gateway), gateway))
    while len(pairs) < VALID_DATAGRAMS:
        document = segment()
        pairs.append((datagram(document), document))
    return pairs


@dataclass
class Bombardment:
    """What was sent to a collector of its own, and its metrics before."""

    target: Collector
    client: Any
    unframed: list[tuple[bytes, str]]
    invalid: list[tuple[bytes, str]]
    valid: list[tuple[bytes, dict[str, Any]]]
    before: Metrics
    sent: list[bytes]


@pytest.fixture(scope="module")
def bombarded(make_module_collector):
    """Every kind of garbage, one valid datagram after each bad one, and a valid one last."""
    target = make_module_collector()
    client = xray_client(target.endpoint_url)
    unframed, invalid, valid = _unframed(), _invalid(), _valid()
    garbage = [b""] + [payload for payload, _ in unframed + invalid]
    good = [payload for payload, _ in valid]
    sent = []
    for i, bad in enumerate(garbage):
        sent += [bad, good[i % len(good)]]
    before = target.metrics()

    target.send(*sent)
    # The stream ends on a valid datagram, and the pipeline takes datagrams in order: once
    # every valid one is accepted, every bad one before it has been counted too.
    accepted = sum(1 for payload in sent if payload in good)
    wait_for_metric(target, ACCEPTED, accepted, source="udp")

    yield Bombardment(target, client, unframed, invalid, valid, before, sent)
    client.close()


def test_every_valid_datagram_among_the_garbage_is_stored(bombarded):
    """Each valid document sent between bad ones comes back exactly as it was sent."""
    trace_ids = [document["trace_id"] for _, document in bombarded.valid]

    stored = wait_for_traces(bombarded.client, trace_ids)

    assert [the_document(stored[trace_id]) for trace_id in trace_ids] == [
        document for _, document in bombarded.valid
    ]


def test_every_non_empty_datagram_is_counted_as_received(bombarded):
    """The received count takes every datagram of one byte or more, as the daemon's does."""
    name = "fluoroscope_udp_datagrams_received_total"

    after = bombarded.target.metrics()

    received = after.value(name) - bombarded.before.value(name)
    assert received == sum(1 for payload in bombarded.sent if payload)


def test_unframed_datagrams_are_counted_by_reason(bombarded):
    """No header and body, or a header that is not the daemon's, is counted by reason."""
    expected = Counter(reason for _, reason in bombarded.unframed)

    after = bombarded.target.metrics()

    assert after.by_label("fluoroscope_udp_datagrams_refused_total", "reason") == expected


def test_invalid_documents_are_counted_by_error_code(bombarded):
    """A framed document that fails validation is counted by its X-Ray error code."""
    expected = Counter(code for _, code in bombarded.invalid)

    after = bombarded.target.metrics()

    refused = after.by_label("fluoroscope_documents_refused_total", "code", source="udp")
    assert refused == expected


def test_only_valid_documents_are_counted_as_accepted(bombarded):
    """Accepted counts the valid datagrams and nothing else."""
    valid = {payload for payload, _ in bombarded.valid}

    after = bombarded.target.metrics()

    accepted = after.value(ACCEPTED, source="udp")
    assert accepted == sum(1 for payload in bombarded.sent if payload in valid)


def test_the_collector_keeps_serving_after_the_garbage(bombarded):
    """Health stays good and the next trace is stored as usual."""
    document = segment()

    bombarded.target.send_documents(document)

    trace = wait_for_trace(bombarded.client, document["trace_id"])
    assert bombarded.target.get("/healthz")[0] == 200
    assert the_document(trace) == document
