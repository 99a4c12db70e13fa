"""Forwarding everything stored, as OTLP, to another backend (Jaeger, Tempo, a collector).

Committed documents are queued (bounded: a full queue drops the batch and counts it), then a
thread translates them to OTLP in batches and sends them over gRPC or HTTP/protobuf. Failures
the OTLP specification calls retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, 429, 502, 503, 504,
connection errors) are retried with exponential backoff; anything else drops the batch. A batch
the endpoint finds malformed (INVALID_ARGUMENT, 400), or that cannot be translated, is split in
halves and each sent again, so that one document nobody can take costs only itself. Every
dropped document is counted by reason.
"""

import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from fluoroscope.config import split_endpoint
from fluoroscope.errors import ConfigError, DocumentError
from fluoroscope.telemetry import Registry
from fluoroscope.translate.otlp import documents_to_spans

log = logging.getLogger(__name__)

MAX_QUEUED_DOCUMENTS = 50_000
BATCH_DOCUMENTS = 512
BATCH_WAIT_S = 1.0
MAX_ATTEMPTS = 6
FIRST_BACKOFF_S = 0.5
TIMEOUT_S = 10.0
_GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_RETRYABLE_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                   grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED}  # fmt: skip
_RETRYABLE_HTTP = {429, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send: ``http(s)://host:port/v1/traces`` is OTLP/HTTP, anything else gRPC."""

    url: str
    http: bool
    target: str

    @classmethod
    def parse(cls, url: str) -> "Destination":
        """Read an endpoint URL (``grpc://host:4317``, ``http://host:4317`` or an HTTP URL)."""
        try:
            parts, port = split_endpoint(url)
        except ValueError as exc:
            raise ConfigError(f"--export-otlp {url!r}: {exc}") from None
        if parts.path.rstrip("/").endswith("/v1/traces") and parts.scheme in ("http", "https"):
            return cls(url, True, url)
        return cls(url, False, f"{parts.hostname}:{port}")


class _Retryable(Exception):
    pass


class _Refused(Exception):
    """A permanent refusal; ``of_content`` when it was the request's content that was refused
    (so that a part of it may pass), not the sender (authentication, a wrong path, ...)."""

    def __init__(self, message: str, *, of_content: bool) -> None:
        super().__init__(message)
        self.of_content = of_content


class OtlpExporter:
    """Sends committed documents to an OTLP endpoint from its own thread."""

    def __init__(self, destination: Destination, registry: Registry) -> None:
        self._destination = destination
        self._queue: deque[bytes] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._channel: grpc.Channel | None = None
        self._sent = registry.counter(
            "fluoroscope_export_documents_sent", "Documents forwarded over OTLP"
        ).child()
        dropped = registry.counter(
            "fluoroscope_export_documents_dropped",
            "Documents not forwarded over OTLP, by reason",
            ("reason",),
        )
        self._dropped = {
            reason: dropped.child(reason)
            for reason in ("queue_full", "rejected", "retries_exhausted", "untranslatable")
        }
        registry.gauge(
            "fluoroscope_export_queue_documents",
            "Documents waiting to be forwarded over OTLP",
            lambda: len(self._queue),
        )

    @property
    def transport(self) -> str:
        """``OTLP/HTTP`` or ``OTLP/gRPC``: what the endpoint URL chose."""
        return "OTLP/HTTP" if self._destination.http else "OTLP/gRPC"

    def start(self) -> None:
        """Start the sending thread."""
        if not self._destination.http:
            self._channel = grpc.insecure_channel(self._destination.target)
        self._thread = threading.Thread(target=self._run, name="fluoroscope-export", daemon=True)
        self._thread.start()

    def offer(self, documents: list[bytes]) -> None:
        """Queue a committed batch (called from the store's writer thread; never blocks)."""
        with self._ready:
            if len(self._queue) + len(documents) > MAX_QUEUED_DOCUMENTS:
                self._dropped["queue_full"].inc(len(documents))
                return
            self._queue.extend(documents)
            self._ready.notify()

    def stop(self, timeout: float) -> None:
        """Send what is queued (within ``timeout``), then stop."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._channel is not None:
            self._channel.close()

    def _run(self) -> None:
        while True:
            with self._ready:
                if not self._queue and not self._stopping:
                    self._ready.wait(BATCH_WAIT_S)
                if not self._queue and self._stopping:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(BATCH_DOCUMENTS, len(self._queue)))
                ]
            if batch:
                self._send(batch)

    def _send(self, batch: list[bytes]) -> None:
        try:
            request = documents_to_spans(batch)
        except Exception as exc:  # a document that cannot be translated costs only itself
            if len(batch) > 1:
                self._split(batch)
                return
            if isinstance(exc, DocumentError):
                log.warning("cannot translate a document for export: %s", exc)
            else:  # a bug: said with its traceback, and the thread goes on
                log.exception("translating a document for export failed")
            self._dropped["untranslatable"].inc()
            return
        body = request.SerializeToString()
        delay = FIRST_BACKOFF_S
        for attempt in range(MAX_ATTEMPTS):
            try:
                self._post(body)
            except _Retryable as exc:
                if attempt + 1 == MAX_ATTEMPTS or self._stopping:
                    log.warning("giving up forwarding %d documents: %s", len(batch), exc)
                    self._dropped["retries_exhausted"].inc(len(batch))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except _Refused as exc:  # resending the same cannot help
                if exc.of_content and len(batch) > 1:
                    self._split(batch)
                    return
                log.warning("the OTLP endpoint refused %d documents: %s", len(batch), exc)
                self._dropped["rejected"].inc(len(batch))
                return
            except Exception:  # whatever it was, the thread must go on with the next batch
                log.exception("forwarding %d documents failed", len(batch))
                self._dropped["rejected"].inc(len(batch))
                return
            self._sent.inc(len(batch))
            return

    def _split(self, batch: list[bytes]) -> None:
        """Send the halves of a batch that failed as a whole, each on its own."""
        half = len(batch) // 2
        self._send(batch[:half])
        self._send(batch[half:])

    def _post(self, body: bytes) -> None:
        if self._destination.http:
            request = urllib.request.Request(
                self._destination.target,
                data=body,
                headers={"Content-Type": "application/x-protobuf"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
                    reply.read()
            except urllib.error.HTTPError as exc:
                if exc.code in _RETRYABLE_HTTP:
                    raise _Retryable(f"HTTP {exc.code}") from None
                raise _Refused(f"HTTP {exc.code}", of_content=exc.code == 400) from None
            except (urllib.error.URLError, OSError) as exc:
                raise _Retryable(str(exc)) from None
            return
        assert self._channel is not None
        export: grpc.UnaryUnaryMultiCallable[bytes, ExportTraceServiceResponse]
        export = self._channel.unary_unary(
            _GRPC_METHOD,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        try:
            export(body, timeout=TIMEOUT_S)
        except grpc.RpcError as exc:
            code = exc.code()
            if code in _RETRYABLE_GRPC:
                raise _Retryable(str(code)) from None
            raise _Refused(
                f"{code}: {exc.details()}", of_content=code == grpc.StatusCode.INVALID_ARGUMENT
            ) from None
