"""Ids and times between OTLP and X-Ray.

An OTLP trace id is 16 bytes; X-Ray writes the same 128 bits as ``1-<8 hex>-<24 hex>``
(xray-protocol.md 5.2), so ``4bf92f3577b34da6a3ce929d0e0e4736`` is
``1-4bf92f35-77b34da6a3ce929d0e0e4736`` and back. The first 8 hex digits are an epoch second
only for ids X-Ray SDKs mint; for W3C ids they are random, and nothing here judges them.

Times are float epoch seconds in X-Ray and integer nanoseconds in OTLP. A float near today's
epoch resolves about 0.24 microseconds, so nanoseconds are written as the float nearest to them
and read back through the float's shortest decimal form: a time read from a document and written
again is the same float (for any time after April 1970, whose shortest form has at most nine
decimals), and the exact nanoseconds of an OTLP span travel in ``metadata.otel`` when the float
cannot give them back.
"""

from decimal import Decimal

from fluoroscope.errors import DocumentError

_ZERO_SPAN = bytes(8)
_NANOS_PER_SECOND = 1_000_000_000


def xray_trace_id(trace_id: bytes) -> str:
    """The X-Ray form of a 16-byte OTLP trace id; raises DocumentError for one X-Ray refuses."""
    if len(trace_id) != 16:
        raise DocumentError(
            "InvalidTraceId", f"trace_id is {len(trace_id)} bytes; OTLP trace ids are 16"
        )
    if not any(trace_id[4:]):
        # All zero, or a zero random part: X-Ray reads both as the unsampled no-op id.
        raise DocumentError("InvalidTraceId", "trace_id has an all-zero random part")
    text = trace_id.hex()
    return f"1-{text[:8]}-{text[8:]}"


def otel_trace_id(trace_id: str) -> bytes:
    """The 16 bytes of an X-Ray trace id (``1-<8 hex>-<24 hex>``)."""
    return bytes.fromhex(trace_id[2:10] + trace_id[11:])


def xray_span_id(span_id: bytes, field: str = "span_id") -> str:
    """The 16-hex-digit form of an 8-byte OTLP span id; raises DocumentError for an invalid one."""
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        raise DocumentError("InvalidId", f"{field} must be 8 bytes, not all zero")
    return span_id.hex()


def otel_span_id(entity_id: str) -> bytes:
    """The 8 bytes of a 16-hex-digit X-Ray entity id."""
    return bytes.fromhex(entity_id)


def seconds(nanos: int) -> float:
    """Epoch nanoseconds as the nearest float epoch seconds."""
    # int / int is correctly rounded in Python; float(nanos) / 1e9 would round twice.
    return nanos / _NANOS_PER_SECOND


def nanos(epoch: float) -> int:
    """Float epoch seconds as integer nanoseconds, through the float's shortest decimal form."""
    # repr() gives the shortest decimal that reads back as the same float, so seconds(nanos(t))
    # is t again; multiplying the binary float by 1e9 would not be.
    return int((Decimal(repr(float(epoch))) * _NANOS_PER_SECOND).to_integral_value())
