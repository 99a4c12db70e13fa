"""Segment documents and datagrams built by hand, laid out the way X-Ray clients lay them out.

The aws-xray-sdk never sends in-progress documents, hand-picked times or ids from other
tracers, so the tests that need those build them here: ``json.dumps`` with Python's default
separators, as the SDK serialises, behind the SDK's header (wire-captures.md section 1).
"""

import itertools
import json
import secrets
import time
from typing import Any

# The header exactly as the SDKs send it: no spaces.
HEADER = b'{"format":"json","version":1}'

# Hand-picked windows for GetTraceSummaries lie in the past, one hour apart, well inside the
# default 30-day retention, so that tests sharing a collector never see each other's traces.
_WINDOWS = itertools.count(int(time.time()) - 10 * 86_400, 3_600)


def new_window() -> int:
    """An epoch second that starts an hour no other caller of this function is given."""
    return next(_WINDOWS)


def new_id() -> str:
    """A fresh 16-hex-digit segment or subsegment id."""
    return secrets.token_hex(8)


def new_trace_id(epoch: float | None = None) -> str:
    """A fresh X-Ray trace id whose epoch part is ``epoch`` (default: now)."""
    seconds = int(time.time() if epoch is None else epoch)
    return f"1-{seconds:08x}-{secrets.token_hex(12)}"


def trace_epoch(trace_id: str) -> int:
    """The epoch-seconds part of an X-Ray trace id."""
    return int(trace_id[2:10], 16)


def segment(
    trace_id: str | None = None,
    *,
    name: str = "checkout",
    start: float | None = None,
    duration: float = 0.05,
    **fields: Any,
) -> dict[str, Any]:
    """A completed segment document; ``in_progress=True`` leaves ``end_time`` out.

    Without ``start``, the segment starts at its trace id's epoch (plus a few milliseconds),
    as a segment minted by an X-Ray SDK does.
    """
    trace_id = trace_id or new_trace_id()
    begin = trace_epoch(trace_id) + 0.125 if start is None else start
    document: dict[str, Any] = {
        "id": new_id(),
        "name": name,
        "start_time": begin,
        "trace_id": trace_id,
        "end_time": begin + duration,
    }
    if fields.get("in_progress") is True:
        del document["end_time"]
    document.update(fields)
    return document


def subsegment(
    parent: dict[str, Any],
    *,
    name: str = "work",
    offset: float = 0.01,
    duration: float = 0.02,
    **fields: Any,
) -> dict[str, Any]:
    """An independent subsegment of ``parent`` (a segment or subsegment document)."""
    begin = parent["start_time"] + offset
    document: dict[str, Any] = {
        "id": new_id(),
        "name": name,
        "start_time": begin,
        "trace_id": parent["trace_id"],
        "parent_id": parent["id"],
        "type": "subsegment",
        "end_time": begin + duration,
    }
    if fields.get("in_progress") is True:
        del document["end_time"]
    document.update(fields)
    return document


def completed(document: dict[str, Any], duration: float = 0.25) -> dict[str, Any]:
    """The completed version of an in-progress document: the same id, now with an end time."""
    done = {key: value for key, value in document.items() if key != "in_progress"}
    done["end_time"] = document["start_time"] + duration
    return done


def dumps(document: object) -> str:
    """A document as the SDK serialises it (Python's default separators)."""
    return json.dumps(document)


def datagram(document: object, header: bytes = HEADER) -> bytes:
    """A UDP datagram carrying ``document``: the header, a newline, then the JSON."""
    body = document if isinstance(document, bytes) else dumps(document).encode()
    return header + b"\n" + body


def folded(document: dict[str, Any]) -> dict[str, str | None]:
    """Every entity in a processed document, by id, mapped to the id of what holds it."""
    parents: dict[str, str | None] = {document["id"]: document.get("parent_id")}
    stack = [document]
    while stack:
        entity = stack.pop()
        for child in entity.get("subsegments", []):
            assert child["id"] not in parents, f"{child['id']} appears twice"
            parents[child["id"]] = entity["id"]
            stack.append(child)
    return parents
