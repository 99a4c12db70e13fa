"""Segment and subsegment names from spans.

X-Ray names an entity after the service it stands for, where OTLP names a span after its
operation. A segment (a SERVER or parentless span) is named after the service: ``aws.local.service``
on SERVER spans, else the resource's ``service.name``, else ``unknown_service``, the name the
OpenTelemetry SDK specification gives a service that set none. A subsegment follows the Collector's
X-Ray exporter (``segment.go``): the called service (``aws.remote.service``, ``peer.service``,
``aws.service``), the database (``db.name@host``), the RPC service, the HTTP host or the peer, and
only then the span name. The span name always survives in ``metadata.otel`` when it differs.

Names are reduced to the characters X-Ray allows and to 200 characters; a name with none left
becomes ``span``.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.model.segment import MAX_NAME_LENGTH
from fluoroscope.translate.otlp._values import Value, string

# The validator's own pattern, so that every name made here is one parse_document accepts.
from fluoroscope.translate.xray_json import _BAD_NAME_CHAR

UNKNOWN_SERVICE = "unknown_service"
EMPTY_NAME = "span"
AWS_API = "aws-api"

_CALLERS = (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER, Span.SPAN_KIND_CONSUMER)
_SENDERS = (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER)
# The exporter's precedence after the kind-specific keys, with the stable conventions' peer
# (server.address) added where the older conventions had net.peer.name.
_SERVICE_KEYS = ("peer.service", "aws.service")
_PEER_KEYS = ("rpc.service", "http.host", "net.peer.name")


def sanitize_name(name: str) -> str:
    """``name`` without the characters X-Ray refuses, cut to 200 characters (may be empty)."""
    return _BAD_NAME_CHAR.sub("", name)[:MAX_NAME_LENGTH]


def segment_name(attributes: Mapping[str, Value], resource: Mapping[str, Value], kind: int) -> str:
    """The name of the segment a SERVER or parentless span becomes."""
    name = string(attributes, "aws.local.service") if kind == Span.SPAN_KIND_SERVER else None
    if not name:
        name = string(resource, "service.name")
    return sanitize_name(name or "") or UNKNOWN_SERVICE


def subsegment_name(attributes: Mapping[str, Value], kind: int, span_name: str) -> str:
    """The name of the subsegment any other span becomes."""
    for candidate in _subsegment_candidates(attributes, kind):
        name = sanitize_name(candidate)
        if name:
            return name
    return sanitize_name(span_name) or EMPTY_NAME


def _subsegment_candidates(attributes: Mapping[str, Value], kind: int) -> list[str]:
    found: list[str | None] = []
    if kind in _CALLERS:
        remote = string(attributes, "aws.remote.service")
        if remote and string(attributes, "rpc.system") == AWS_API:
            remote = remote.removeprefix("AWS.SDK.").removeprefix("AWS::")
        found.append(remote)
    found.extend(string(attributes, key) for key in _SERVICE_KEYS)
    found.append(_database(attributes))
    found.extend(string(attributes, key) for key in _PEER_KEYS)
    if kind in _SENDERS:
        found.append(string(attributes, "server.address"))
    return [name for name in found if name]


def _database(attributes: Mapping[str, Value]) -> str | None:
    """``<db name>@<host>``, as X-Ray SDKs name SQL subsegments."""
    name = string(attributes, "db.name") or string(attributes, "db.namespace")
    if not name:
        return None
    host = None
    connection = string(attributes, "db.connection_string")
    if connection:
        try:
            # JDBC strings read as URLs once their "jdbc:" prefix is gone.
            host = urlsplit(connection.removeprefix("jdbc:")).hostname
        except ValueError:
            host = None
    host = host or string(attributes, "server.address") or string(attributes, "net.peer.name")
    return f"{name}@{host}" if host else name
