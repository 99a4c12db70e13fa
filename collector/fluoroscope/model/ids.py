"""X-Ray trace and entity identifiers.

A trace id is ``1-<8 hex>-<24 hex>``: the 8 hex digits are, for ids minted by X-Ray SDKs, the
epoch second the trace began; for ids that came from W3C/OpenTelemetry they are random. Nothing
here rejects an id for what its epoch part says (DESIGN.md, xray-protocol.md 4.5).
"""

import re

_TRACE_ID = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}")
_W3C_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
_ENTITY_ID = re.compile(r"[0-9a-fA-F]{16}")

# The no-op ids the Python SDK gives unsampled requests (xray-protocol.md 5.1): never a trace.
NOOP_TRACE_ID = "1-00000000-000000000000000000000000"


def is_trace_id(value: str) -> bool:
    """Whether ``value`` has the X-Ray trace id form and is not the all-zero no-op id."""
    return _TRACE_ID.fullmatch(value) is not None and value[11:] != "0" * 24


def is_entity_id(value: str) -> bool:
    """Whether ``value`` is a 16-hex-digit segment, subsegment or exception id."""
    return _ENTITY_ID.fullmatch(value) is not None


def normalize_trace_id(value: str) -> str | None:
    """Return the canonical lowercase X-Ray form of an X-Ray or 32-hex W3C trace id, else None."""
    if _TRACE_ID.fullmatch(value):
        return value.lower()
    if _W3C_TRACE_ID.fullmatch(value):
        return f"1-{value[:8]}-{value[8:]}".lower()
    return None


def trace_id_epoch(trace_id: str) -> int:
    """The epoch-seconds part of a valid trace id (random for W3C-born ids)."""
    return int(trace_id[2:10], 16)
