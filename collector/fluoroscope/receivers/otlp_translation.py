"""Decoding and translating OTLP export requests, in helper processes when the machine has cores.

Translation costs about 30 µs of Python a span. Run in the collector's own process it competes
with the pipeline thread for the interpreter lock, so OTLP ingest would be bounded by the two
together; in a helper process it runs on another core. :func:`translate` is therefore a plain
function from the request body as received (protobuf or OTLP/JSON bytes) to the documents as
JSON bytes: what crosses between processes pickles cheaply, and decoding happens on the helper
too. With ``processes = 0`` it runs on threads of the collector instead.
"""

import asyncio
import base64
import logging
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fluoroscope.runtime import HELPERS_UNAVAILABLE, helper_pool
from fluoroscope.translate.otlp import spans_to_documents

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

log = logging.getLogger(__name__)


class MalformedRequest(ValueError):
    """The body is not an export request in its declared encoding."""


class TranslatorUnavailable(Exception):
    """A helper process died while translating; the request may be retried."""


@dataclass(frozen=True, slots=True)
class Translated:
    """The documents of one export request, and what became of the rest of its spans."""

    documents: list[bytes]
    # Per document: whether its span carried the W3C sampled flag.
    sampled: list[bool]
    # Refused spans by reason (the refusal's message), and by its X-Ray error code.
    reasons: dict[str, int]
    codes: dict[str, int]
    # Spans in the request.
    total: int


def translate(body: bytes, encoding: str, indexed: frozenset[str]) -> Translated:
    """Decode an export request and translate its spans; raises MalformedRequest."""
    translation = spans_to_documents(decode(body, encoding), indexed_attributes=indexed)
    reasons = Counter(str(refusal) for _, refusal in translation.rejected)
    codes = Counter(refusal.code for _, refusal in translation.rejected)
    total = len(translation.documents) + len(translation.rejected)
    return Translated(translation.documents, translation.sampled, dict(reasons), dict(codes), total)


def decode(body: bytes, encoding: str) -> ExportTraceServiceRequest:
    """The export request in ``body``, protobuf or OTLP/JSON; raises MalformedRequest."""
    message = ExportTraceServiceRequest()
    if encoding == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise MalformedRequest(f"malformed protobuf: {exc}") from None
        return message
    try:
        document = orjson.loads(body)
        if not isinstance(document, dict):
            raise ValueError("the body must be a JSON object")
        _ids_to_base64(document)
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (orjson.JSONDecodeError, ValueError, json_format.ParseError, TypeError) as exc:
        raise MalformedRequest(f"malformed JSON: {exc}") from None
    return message


class Translator:
    """Runs :func:`translate` on helper processes, or on ``threads`` when there are none.

    The pool starts with the first request, so a collector that only takes X-Ray data starts
    no process. A helper that dies fails the requests it had (retryable for the sender), and the
    next request starts a new pool.
    """

    def __init__(self, processes: int, threads: Executor) -> None:
        self._processes = processes
        self._threads = threads
        self._pool: ProcessPoolExecutor | None = None

    async def translate(self, body: bytes, encoding: str, indexed: frozenset[str]) -> Translated:
        """Translate one request; raises MalformedRequest or TranslatorUnavailable."""
        loop = asyncio.get_running_loop()
        if self._processes == 0:
            return await loop.run_in_executor(self._threads, translate, body, encoding, indexed)
        pool = self._pool
        if pool is None:
            try:
                pool = self._pool = helper_pool(self._processes)
            except HELPERS_UNAVAILABLE as exc:
                log.warning("cannot start OTLP translation processes (%s); using threads", exc)
                self._processes = 0
                return await loop.run_in_executor(self._threads, translate, body, encoding, indexed)
        try:
            return await loop.run_in_executor(pool, translate, body, encoding, indexed)
        except BrokenProcessPool:
            log.error("an OTLP translation process died; starting new ones")
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise TranslatorUnavailable("the translator was restarted; retry") from None

    def shutdown(self) -> None:
        """Stop the helper processes (after the receivers have stopped)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# Each field in its lowerCamelCase name and its proto name: senders must write the first, but
# protobuf's JSON parser takes either, as the OpenTelemetry Collector does.
_ID_FIELDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes ids in hex; protobuf's JSON mapping wants bytes in base64."""
    for resource in _list(document, "resourceSpans", "resource_spans"):
        for scope in _list(resource, "scopeSpans", "scope_spans"):
            for span in _list(scope, "spans"):
                _convert(span)
                for link in _list(span, "links"):
                    _convert(link)


def _list(holder: object, *keys: str) -> list[Any]:
    """The list under the first of ``keys`` the holder has (as protobuf's parser reads it)."""
    if not isinstance(holder, dict):
        return []
    for key in keys:
        if key in holder:
            value = holder[key]
            return value if isinstance(value, list) else []
    return []


def _convert(item: object) -> None:
    if not isinstance(item, dict):
        return
    for key in _ID_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and value:
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise ValueError(f"{key} {value[:40]!r} is not hex") from None
