"""The OTLP/HTTP receiver (port 4318): ``POST /v1/traces`` in protobuf or JSON, plain or gzip.

Status codes follow the OTLP specification: 200 with ``partial_success`` when some spans are
refused, 400 for a malformed body (or compression), 401 without the configured bearer token,
413 when the body (after decompression) is over the limit, 415 for another content type,
and 503 with ``Retry-After`` when the pipeline is full, which senders retry.
"""

import hmac

import orjson
from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf import json_format
from google.rpc.code_pb2 import (
    INVALID_ARGUMENT,
    RESOURCE_EXHAUSTED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    UNKNOWN,
)
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from fluoroscope.config import Address
from fluoroscope.http_listener import serve_http
from fluoroscope.receivers.otlp import Busy, OtlpIngest
from fluoroscope.receivers.otlp_translation import JSON, PROTOBUF, MalformedRequest

RETRY_AFTER_S = 2
# The gRPC status an error answer's Status carries: what the gRPC receiver answers for the same.
_GRPC_CODES = {
    400: INVALID_ARGUMENT,
    401: UNAUTHENTICATED,
    413: RESOURCE_EXHAUSTED,
    415: INVALID_ARGUMENT,
    503: UNAVAILABLE,
}


class _Refused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class OtlpHttpReceiver:
    """Serves OTLP/HTTP until stopped."""

    def __init__(
        self, address: Address, ingest: OtlpIngest, max_message_bytes: int, token: str | None
    ) -> None:
        self._address = address
        self._ingest = ingest
        self._max_bytes = max_message_bytes
        self._token = token
        self._runner: web.AppRunner | None = None

    async def start(self) -> Address:
        """Listen; return the bound address."""
        # The body is read in export() with its own limit (compressed bodies expand).
        app = web.Application(client_max_size=self._max_bytes)
        app.router.add_post("/v1/traces", self._traces)
        self._runner, bound = await serve_http(app, self._address)
        return bound

    async def stop(self) -> None:
        """Stop taking requests."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _traces(self, request: web.Request) -> web.Response:
        kind = request.content_type
        answer = JSON if kind == JSON else PROTOBUF
        try:
            if self._token is not None and not _authorized(request, self._token):
                raise _Refused(401, "unauthenticated", "a valid bearer token is required")
            if kind not in (PROTOBUF, JSON):
                raise _Refused(415, "content_type", f"unsupported content type {kind!r}")
            body = await self._body(request)
            try:
                outcome = await self._ingest.export(body, kind, "http")
            except MalformedRequest as exc:
                raise _Refused(400, "malformed", str(exc)) from None
        except _Refused as exc:
            self._ingest.refused("http", exc.reason)
            return _status(answer, exc.status, str(exc))
        except Busy as exc:
            response = _status(answer, 503, str(exc))
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        reply = ExportTraceServiceResponse()
        if outcome.rejected:
            reply.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=outcome.rejected, error_message=outcome.message
                )
            )
        return _encode(reply, answer, 200)

    async def _body(self, request: web.Request) -> bytes:
        # aiohttp inflates gzip and deflate bodies itself, and applies the size limit to what
        # comes out, so a small compressed bomb cannot expand into memory.
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(413, "too_large", "the request body is too large") from None
        except (ClientPayloadError, ContentEncodingError, RequestPayloadError) as exc:
            raise _Refused(400, "malformed", f"the body cannot be decoded: {exc}") from None


def _encode(message: ExportTraceServiceResponse, kind: str, status: int) -> web.Response:
    if kind == JSON:
        body = json_format.MessageToJson(message).encode()
    else:
        body = message.SerializeToString()
    return web.Response(body=body, status=status, content_type=kind)


def _status(kind: str, status: int, text: str) -> web.Response:
    """An error answer: a ``google.rpc.Status`` in the request's encoding, as the OTLP/HTTP
    specification requires of every 4xx and 5xx answer. Its code is the gRPC one."""
    code = _GRPC_CODES.get(status, UNKNOWN)
    if kind == JSON:
        body = orjson.dumps({"code": code, "message": text})
    else:
        body = Status(code=code, message=text).SerializeToString()
    return web.Response(body=body, status=status, content_type=kind)


def _authorized(request: web.Request, token: str) -> bool:
    """Whether the request carries the bearer token (compared as bytes: a header may hold
    any byte, and a wrong one is a wrong token like any other)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode()
    )
