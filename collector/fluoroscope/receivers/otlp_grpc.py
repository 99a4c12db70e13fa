"""The OTLP/gRPC receiver (port 4317): ``TraceService/Export`` on a ``grpc.aio`` server.

The method is registered with a raw-bytes handler rather than the generated servicer, so that
a malformed message is answered INVALID_ARGUMENT (as OTLP asks) instead of gRPC's generic
deserialisation failure.
"""

import hmac

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from fluoroscope.config import Address
from fluoroscope.receivers.otlp import Busy, OtlpIngest
from fluoroscope.receivers.otlp_translation import PROTOBUF, MalformedRequest

_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
_Context = grpc.aio.ServicerContext[bytes, ExportTraceServiceResponse]


class OtlpGrpcReceiver:
    """Serves OTLP/gRPC until stopped."""

    def __init__(
        self, address: Address, ingest: OtlpIngest, max_message_bytes: int, token: str | None
    ) -> None:
        self._address = address
        self._ingest = ingest
        self._max_bytes = max_message_bytes
        self._token = token
        self._server: grpc.aio.Server | None = None

    async def start(self) -> Address:
        """Listen; return the bound address."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        handler: grpc.RpcMethodHandler[bytes, ExportTraceServiceResponse]
        handler = grpc.unary_unary_rpc_method_handler(
            self.export,
            request_deserializer=None,  # bytes: decoded where they are translated
            response_serializer=ExportTraceServiceResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(_SERVICE, {"Export": handler}),)
        )
        try:
            port = server.add_insecure_port(str(self._address))
        except RuntimeError:  # newer grpcio raises where older releases returned 0
            port = 0
        if port == 0:
            raise OSError("the address is in use or cannot be bound")
        await server.start()
        self._server = server
        return Address(self._address.host, port)

    async def stop(self) -> None:
        """Stop taking requests; let those in flight finish (up to 5 s)."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(5.0)

    async def export(self, body: bytes, context: _Context) -> ExportTraceServiceResponse:
        """Store the spans; report refused ones in partial_success."""
        if self._token is not None and not _authorized(context, self._token):
            self._ingest.refused("grpc", "unauthenticated")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")
        try:
            outcome = await self._ingest.export(body, PROTOBUF, "grpc")
        except MalformedRequest as exc:
            self._ingest.refused("grpc", "malformed")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {exc}")
        except Busy as exc:
            # UNAVAILABLE is the code OTLP senders retry with backoff.
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=outcome.rejected, error_message=outcome.message
                )
            )
        return response


def _authorized(context: _Context, token: str) -> bool:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, given = value.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
    return False
