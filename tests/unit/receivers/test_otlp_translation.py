"""OTLP request decoding and translation, on the collector's threads and on helper processes."""

import asyncio
import base64
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fluoroscope.receivers.otlp_translation import (
    JSON,
    PROTOBUF,
    MalformedRequest,
    Translator,
    TranslatorUnavailable,
    translate,
)
from fluoroscope.translate.otlp import spans_to_documents

FIXTURES = Path(__file__).parents[2] / "fixtures" / "otlp"


@pytest.fixture(scope="module")
def body() -> bytes:
    """A request captured from opentelemetry-sdk, as its exporter sent it."""
    return (FIXTURES / "db_postgresql.binpb").read_bytes()


def test_a_protobuf_request_gives_the_translators_documents(body):
    """translate() is spans_to_documents on the decoded body, with the refusals tallied."""
    request = ExportTraceServiceRequest.FromString(body)

    translated = translate(body, PROTOBUF, frozenset())

    assert translated.documents == spans_to_documents(request).documents
    assert translated.total == len(translated.documents) > 0
    assert translated.reasons == {}
    assert len(translated.sampled) == len(translated.documents)


@pytest.mark.parametrize("proto_names", [False, True])
def test_otlp_json_with_hex_ids_gives_the_same_documents(body, proto_names):
    """OTLP/JSON writes ids in hex, not protobuf JSON's base64; both read alike, also under
    the fields' proto names (resource_spans, trace_id, ...), which protobuf's parser takes."""
    request = ExportTraceServiceRequest.FromString(body)
    document = json_format.MessageToDict(request, preserving_proto_field_name=proto_names)
    spans_key, scopes_key = (
        ("resource_spans", "scope_spans") if proto_names else ("resourceSpans", "scopeSpans")
    )
    ids = (
        ("trace_id", "span_id", "parent_span_id")
        if proto_names
        else ("traceId", "spanId", "parentSpanId")
    )
    for resource in document[spans_key]:
        for scope in resource[scopes_key]:
            for span in scope["spans"]:
                for key in ids:
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()

    translated = translate(orjson.dumps(document), JSON, frozenset())

    assert translated.documents == translate(body, PROTOBUF, frozenset()).documents


@pytest.mark.parametrize(
    ("garbage", "encoding", "said"),
    [
        (b"\xff\xff\xff", PROTOBUF, "malformed protobuf"),
        (b"[1, 2]", JSON, "must be a JSON object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, "hex"),
        (b"{", JSON, "malformed JSON"),
    ],
)
def test_a_malformed_body_is_refused_with_the_reason(garbage, encoding, said):
    """Nothing but MalformedRequest comes out of a body that is not a request."""
    with pytest.raises(MalformedRequest, match=said):
        translate(garbage, encoding, frozenset())


@pytest.mark.parametrize("processes", [0, 1])
def test_the_translator_answers_alike_on_threads_and_processes(body, processes):
    """A helper process returns what translating in place returns; malformed stays malformed."""

    async def run() -> None:
        with ThreadPoolExecutor(1) as threads:
            translator = Translator(processes, threads)
            try:
                translated = await translator.translate(body, PROTOBUF, frozenset())
                with pytest.raises(MalformedRequest):
                    await translator.translate(b"\xff\xff", PROTOBUF, frozenset())
            finally:
                translator.shutdown()
        assert translated == translate(body, PROTOBUF, frozenset())

    asyncio.run(run())


def test_a_dead_helper_fails_its_request_as_retryable_and_is_replaced(body):
    """When a helper process dies, the request is refused for retry; the next one succeeds."""

    async def run() -> None:
        with ThreadPoolExecutor(1) as threads:
            translator = Translator(1, threads)
            try:
                await translator.translate(body, PROTOBUF, frozenset())
                pool = translator._pool
                assert pool is not None
                for process in list(pool._processes.values()):
                    os.kill(process.pid, signal.SIGKILL)
                for _ in range(100):  # until the pool's manager thread has seen the death
                    if pool._broken:
                        break
                    await asyncio.sleep(0.05)
                with pytest.raises(TranslatorUnavailable):
                    await translator.translate(body, PROTOBUF, frozenset())
                again = await translator.translate(body, PROTOBUF, frozenset())
            finally:
                translator.shutdown()
        assert again.documents

    asyncio.run(run())


def test_without_process_support_the_translator_uses_threads(body, monkeypatch):
    """Where processes cannot be started (no /dev/shm semaphores), requests still translate."""
    from fluoroscope.receivers import otlp_translation

    def unavailable(*args, **kwargs):
        raise OSError("This platform lacks a functioning sem_open implementation")

    monkeypatch.setattr(otlp_translation, "ProcessPoolExecutor", unavailable)

    async def run() -> None:
        with ThreadPoolExecutor(1) as threads:
            translator = Translator(1, threads)
            first = await translator.translate(body, PROTOBUF, frozenset())
            second = await translator.translate(body, PROTOBUF, frozenset())
            translator.shutdown()
        assert first == second == translate(body, PROTOBUF, frozenset())

    asyncio.run(run())
