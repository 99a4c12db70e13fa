"""The ``http`` block: HTTP span attributes, stable and older conventions, both ways.

To X-Ray (after the Collector's exporter, ``http.go``), each field takes the first attribute
present, stable conventions first:

=====================  ===================================================================
``request.method``     ``http.request.method``, ``http.method``
``request.url``        ``url.full``, ``http.url``; else rebuilt from scheme (``url.scheme``,
                       ``http.scheme``, default ``http``), host and port (servers:
                       ``http.host``, ``server.address``/``server.port``,
                       ``http.server_name``, ``net.host.name``/``net.host.port``; others:
                       ``http.host``, ``server.address``/``server.port``,
                       ``net.peer.name``/``net.peer.port``, ``network.peer.address``/
                       ``network.peer.port``, ``net.peer.ip``; default ports left out) and
                       target (``http.target``, or ``url.path`` and ``url.query``, default
                       ``/``), when a scheme or a target says the span has a URL at all
``request.user_agent`` ``user_agent.original``, ``http.user_agent``
``request.client_ip``  ``client.address``, ``http.client_ip``; on SERVER spans also
                       ``network.peer.address``, ``net.sock.peer.addr``, ``net.peer.ip``
``request.             true when the client IP is ``client.address`` or ``http.client_ip``
x_forwarded_for``      and the span has no socket peer address (``network.peer.address``,
                       ``net.sock.peer.addr``, ``net.peer.ip``): the address came from a
                       header such as X-Forwarded-For; a peer address equal to the client IP
                       is consumed
``response.status``    ``http.response.status_code``, ``http.status_code``
``response.            ``http.response.body.size``, ``http.response_content_length``
content_length``
=====================  ===================================================================

An attribute whose value a field holds unchanged is *consumed* and not repeated under
``metadata.default``; the parts a URL is rebuilt from stay there, since the URL does not give
them back. From X-Ray, fields become the stable conventions' attributes (``http.request.method``,
``url.full``, ``user_agent.original``, ``client.address``, ``http.response.status_code``,
``http.response.body.size``), as OpenTelemetry's Python instrumentations now write them; a
``client_ip`` not forwarded is also ``network.peer.address``, so that ``x_forwarded_for`` reads
back as it was; any other field travels as ``aws.xray.<path>`` (``_fields``).
"""

from collections.abc import Mapping
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.translate.otlp._values import Value, integer, scalar, string

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SERVER_HOSTS = (
    ("http.host", None),
    ("server.address", "server.port"),
    ("http.server_name", "net.host.port"),
    ("net.host.name", "net.host.port"),
)
_CLIENT_HOSTS = (
    ("http.host", None),
    ("server.address", "server.port"),
    ("net.peer.name", "net.peer.port"),
    ("network.peer.address", "network.peer.port"),
    ("net.peer.ip", "net.peer.port"),
)
_URL_PARTS = ("url.scheme", "http.scheme", "url.path", "http.target")
_CLIENT_ADDRESSES = ("client.address", "http.client_ip")
# Socket peer addresses, stable convention first; the exporter reads the first and last
# (net.sock.peer.addr is the same address under the 1.17-1.20 conventions' name).
_SERVER_PEERS = ("network.peer.address", "net.sock.peer.addr", "net.peer.ip")
# Field to attribute, one way; the other way reads these first and then the older names.
_REQUEST = {
    "method": "http.request.method",
    "url": "url.full",
    "user_agent": "user_agent.original",
    "client_ip": "client.address",
}
_RESPONSE = {"status": "http.response.status_code", "content_length": "http.response.body.size"}


def to_xray(attributes: Mapping[str, Value], kind: int) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``http`` block of a span, and the attribute keys it consumed."""
    used: list[str] = []
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}

    _take(request, "method", attributes, ("http.request.method", "http.method"), used)
    _take(request, "user_agent", attributes, ("user_agent.original", "http.user_agent"), used)
    if _take(request, "client_ip", attributes, _CLIENT_ADDRESSES, used):
        _forwarded(request, attributes, used)
    elif kind == Span.SPAN_KIND_SERVER:
        _take(request, "client_ip", attributes, _SERVER_PEERS, used)
    for key in ("http.response.status_code", "http.status_code"):
        status = integer(attributes, key)
        if status is not None:
            response["status"] = status
            used.append(key)
            break
    for key in ("http.response.body.size", "http.response_content_length"):
        length = integer(attributes, key)
        if length is not None:
            response["content_length"] = length
            used.append(key)
            break
    if not _take(request, "url", attributes, ("url.full", "http.url"), used):
        if not (request or response):
            return None, used  # not an HTTP span: a host alone is no reason for a URL
        url = _rebuilt_url(attributes, kind)
        if url is not None:
            request["url"] = url

    block: dict[str, Any] = {}
    if request:
        block["request"] = request
    if response:
        block["response"] = response
    return block, used


def from_xray(http: Any, attributes: dict[str, Value], extras: dict[tuple[str, ...], Any]) -> None:
    """Add the attributes an ``http`` block stands for; fields with no convention go to extras."""
    if not isinstance(http, dict):
        extras[("http",)] = http
        return
    for key, part in http.items():
        names = _REQUEST if key == "request" else _RESPONSE if key == "response" else None
        if names is None or not isinstance(part, dict):
            extras[("http", key)] = part
            continue
        for field, value in part.items():
            name = names.get(field)
            if name is not None and _is_text(value) and key == "request":
                attributes[name] = {"stringValue": value}
            elif name is not None and _is_int(value) and key == "response":
                attributes[name] = {"intValue": str(value)}
            else:
                extras[("http", key, field)] = value
        if key == "request":
            _peer_from_xray(part, attributes, extras)


def _peer_from_xray(
    request: dict[str, Any], attributes: dict[str, Value], extras: dict[tuple[str, ...], Any]
) -> None:
    """Say what ``x_forwarded_for`` says in the terms :func:`_forwarded` reads back.

    A client address not forwarded is the socket peer's; a forwarded one needs no attribute of
    its own, since the absent peer address implies it.
    """
    client_ip = request.get("client_ip")
    if not _is_text(client_ip) or any(string(attributes, key) is not None for key in _SERVER_PEERS):
        return  # a peer address from metadata.default: the flag travels as itself
    if request.get("x_forwarded_for") is True:
        del extras[("http", "request", "x_forwarded_for")]
    else:
        attributes[_SERVER_PEERS[0]] = {"stringValue": client_ip}


def _forwarded(request: dict[str, Any], attributes: Mapping[str, Value], used: list[str]) -> None:
    """Mark a client address as forwarded unless the span saw its socket peer.

    As the exporter decides: a client address with no peer address came from a header such as
    X-Forwarded-For. A peer address equal to the client address is what the absent flag says
    (the client connected directly), so it is consumed; a different one (a proxy) stays.
    """
    for key in _SERVER_PEERS:
        peer = string(attributes, key)
        if peer is not None:
            if peer == request["client_ip"]:
                used.append(key)
            return
    request["x_forwarded_for"] = True


def _take(
    out: dict[str, Any],
    field: str,
    attributes: Mapping[str, Value],
    keys: tuple[str, ...],
    used: list[str],
) -> bool:
    for key in keys:
        value = string(attributes, key)
        if value is not None:
            out[field] = value
            used.append(key)
            return True
    return False


def _rebuilt_url(attributes: Mapping[str, Value], kind: int) -> str | None:
    """``scheme://host[:port]target`` from the parts a span carries, if it names a host."""
    if not any(key in attributes for key in _URL_PARTS):
        # A peer's address alone (an AWS SDK call's endpoint) says nothing of scheme or path.
        return None
    hosts = _SERVER_HOSTS if kind == Span.SPAN_KIND_SERVER else _CLIENT_HOSTS
    for host_key, port_key in hosts:  # noqa: B007  # the pair found is used below
        host = string(attributes, host_key)
        if host:
            break
    else:
        return None
    scheme = string(attributes, "url.scheme") or string(attributes, "http.scheme") or "http"
    port = scalar(attributes, port_key) if port_key else None
    netloc = host
    # Some servers' instrumentations put the Host header, port and all, in server.address.
    if (
        port is not None
        and str(port) != _DEFAULT_PORTS.get(scheme)
        and not host.endswith(f":{port}")
    ):
        netloc = f"{host}:{port}"
    target = string(attributes, "http.target")
    if target is None:
        target = string(attributes, "url.path") or "/"
        query = string(attributes, "url.query")
        if query:
            target = f"{target}?{query}"
    return f"{scheme}://{netloc}{target}"


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
