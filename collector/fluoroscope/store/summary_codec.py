"""The stored form of a :class:`TraceSummary`: compact JSON lists, decoded back on read."""

from typing import Any

import msgspec
import orjson

from fluoroscope.model.facts import Call, Status, TraceFacts, Visit
from fluoroscope.model.services import ServiceId
from fluoroscope.model.summary import TraceSummary
from fluoroscope.model.trace import Completeness

_FORMAT = 3
_encoder = msgspec.json.Encoder()


def encode(s: TraceSummary) -> bytes:
    """Serialise a summary for the ``traces.summary`` column.

    msgspec writes the named tuples (services, visits, calls) as JSON arrays directly, which
    saves converting every one of them first.
    """
    return _encoder.encode(
        [
            _FORMAT, s.trace_id, s.revision, s.start_time, s.end_time, s.id_time, s.duration,
            s.response_time, s.has_fault, s.has_error, s.has_throttle, s.is_partial,
            int(s.completeness), s.limit_exceeded, s.http_method, s.http_url,
            s.http_user_agent, s.http_client_ip, s.http_status, s.entry_point,
            s.service_ids,
            [
                [key, tag, value, holders]
                for key, values in s.annotations.items()
                for (tag, value), holders in values.items()
            ],
            list(s.users.items()), s.resource_arns, s.instance_ids, s.availability_zones,
            s.dropped_annotation_keys, s.fault_root_causes, s.error_root_causes,
            s.response_time_root_causes, s.inferred,
            s.facts.visits, s.facts.calls,
        ]
    )  # fmt: skip


def decode(stored: bytes | str | list[Any]) -> TraceSummary:
    """Rebuild a summary from its stored form (JSON text, or that text already decoded)."""
    f: list[Any] = stored if isinstance(stored, list) else orjson.loads(stored)
    if f[0] != _FORMAT:
        raise ValueError(f"unknown summary format {f[0]!r}")
    annotations: dict[str, dict[tuple[str, Any], list[int]]] = {}
    for key, tag, value, holders in f[21]:
        annotations.setdefault(key, {})[(tag, bool(value) if tag == "b" else value)] = holders
    return TraceSummary(
        trace_id=f[1], revision=f[2], start_time=f[3], end_time=f[4], id_time=f[5],
        duration=f[6], response_time=f[7], has_fault=f[8], has_error=f[9], has_throttle=f[10],
        is_partial=f[11], completeness=Completeness(f[12]), limit_exceeded=f[13],
        http_method=f[14], http_url=f[15], http_user_agent=f[16], http_client_ip=f[17],
        http_status=f[18], entry_point=f[19],
        service_ids=[ServiceId(*service) for service in f[20]],
        annotations=annotations, users=dict(f[22]), resource_arns=f[23], instance_ids=f[24],
        availability_zones=f[25], dropped_annotation_keys=f[26], fault_root_causes=f[27],
        error_root_causes=f[28], response_time_root_causes=f[29], inferred=f[30],
        facts=TraceFacts(
            [_read_visit(v) for v in f[31]], [_read_call(c) for c in f[32]]
        ),
    )  # fmt: skip


def _read_visit(f: list[Any]) -> Visit:
    return Visit(
        ServiceId(*f[0]), f[1], Status(f[2]), f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
        f[11], f[12], f[13], f[14],
    )  # fmt: skip


def _read_call(f: list[Any]) -> Call:
    return Call(
        ServiceId(*f[0]), ServiceId(*f[1]), Status(f[2]), f[3], f[4], f[5], f[6], f[7], f[8],
        f[9], f[10], f[11],
    )  # fmt: skip
