"""The http block, from both HTTP conventions and back (xray-protocol.md 4.2)."""

import pytest

from .conftest import CLIENT, PARENT, SERVER, attributes_of

STABLE_SERVER = {
    "http.request.method": "POST",
    "url.scheme": "https",
    "server.address": "shop.example.com",
    "server.port": 8443,
    "url.path": "/cart",
    "url.query": "id=1",
    "client.address": "10.1.2.3",
    "user_agent.original": "curl/8.5.0",
    "http.response.status_code": 201,
    "http.response.body.size": 42,
}


def test_a_stable_server_span_fills_every_http_field(make_span, to_document):
    """Method, rebuilt URL, client address (forwarded: no peer address), user agent, status and
    length."""
    document = to_document(make_span(kind=SERVER, attributes=STABLE_SERVER))

    assert document["http"] == {
        "request": {
            "method": "POST",
            "url": "https://shop.example.com:8443/cart?id=1",
            "client_ip": "10.1.2.3",
            "x_forwarded_for": True,
            "user_agent": "curl/8.5.0",
        },
        "response": {"status": 201, "content_length": 42},
    }


def test_a_default_port_is_left_out_of_a_rebuilt_url(make_span, to_document):
    """http on 80 and https on 443 need no port."""
    attributes = dict(STABLE_SERVER, **{"server.port": 443})

    document = to_document(make_span(attributes=attributes))

    assert document["http"]["request"]["url"] == "https://shop.example.com/cart?id=1"


def test_a_server_address_holding_its_port_gets_it_once(make_span, to_document):
    """The WSGI instrumentation puts the Host header, port included, in server.address."""
    attributes = {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/",
        "server.address": "127.0.0.1:3849",
        "server.port": 3849,
    }

    document = to_document(make_span(attributes=attributes))

    assert document["http"]["request"]["url"] == "http://127.0.0.1:3849/"


def test_an_old_convention_client_span_fills_the_http_fields(make_span, to_document):
    """http.method, http.url and http.status_code, as older instrumentations write them."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={
            "http.method": "GET",
            "http.url": "https://api.example.com/items?id=7",
            "http.status_code": 200,
            "http.user_agent": "python-requests/2.32",
        },
    )

    document = to_document(span)

    assert document["http"] == {
        "request": {
            "method": "GET",
            "url": "https://api.example.com/items?id=7",
            "user_agent": "python-requests/2.32",
        },
        "response": {"status": 200},
    }


def test_an_old_convention_server_span_rebuilds_its_url_from_host_and_target(
    make_span, to_document
):
    """http.scheme, http.host and http.target make the URL."""
    span = make_span(
        attributes={
            "http.method": "GET",
            "http.scheme": "http",
            "http.host": "shop.example.com:8080",
            "http.target": "/orders?page=2",
        }
    )

    document = to_document(span)

    assert document["http"]["request"]["url"] == "http://shop.example.com:8080/orders?page=2"


@pytest.mark.parametrize("key", ["client.address", "http.client_ip"])
def test_a_client_address_without_a_peer_address_is_forwarded(make_span, to_document, key):
    """With no socket peer to say otherwise, the address came from a header, as the exporter
    marks it."""
    span = make_span(attributes={"http.method": "GET", key: "203.0.113.9"})

    request = to_document(span)["http"]["request"]

    assert (request["client_ip"], request["x_forwarded_for"]) == ("203.0.113.9", True)


@pytest.mark.parametrize("key", ["client.address", "http.client_ip"])
@pytest.mark.parametrize("peer", ["net.peer.ip", "network.peer.address"])
def test_a_client_address_beside_a_peer_address_is_not_forwarded(make_span, to_document, key, peer):
    """A proxy's socket address: x_forwarded_for is not set, and the proxy stays in metadata."""
    span = make_span(attributes={"http.method": "GET", key: "203.0.113.9", peer: "10.0.0.5"})

    document = to_document(span)

    assert document["http"]["request"] == {"method": "GET", "client_ip": "203.0.113.9"}
    assert document["metadata"]["default"] == {peer: "10.0.0.5"}


def test_a_peer_address_equal_to_the_client_address_is_consumed(make_span, to_document):
    """A client that connected directly: the absent flag already says the peer is the client."""
    attributes = {
        "http.request.method": "GET",
        "client.address": "203.0.113.9",
        "network.peer.address": "203.0.113.9",
    }

    document = to_document(make_span(attributes=attributes))

    assert document["http"]["request"] == {"method": "GET", "client_ip": "203.0.113.9"}
    assert "default" not in document["metadata"]


@pytest.mark.parametrize(
    ("request_fields", "attributes"),
    [
        ({"client_ip": "203.0.113.9", "x_forwarded_for": True}, {"client.address": "203.0.113.9"}),
        (
            {"client_ip": "203.0.113.9"},
            {"client.address": "203.0.113.9", "network.peer.address": "203.0.113.9"},
        ),
        (
            {"client_ip": "203.0.113.9", "x_forwarded_for": False},
            {
                "client.address": "203.0.113.9",
                "network.peer.address": "203.0.113.9",
                "aws.xray.x_forwarded_for": False,
            },
        ),
    ],
)
def test_x_forwarded_for_reads_back_as_a_peer_address_or_its_absence(
    make_document, to_span, to_document, request_fields, attributes
):
    """A forwarded client IP has no peer; one not forwarded is its own peer; both come back."""
    document = make_document(http={"request": request_fields})

    span = to_span(document)

    assert attributes_of(span) == attributes
    assert to_document(span)["http"] == document["http"]


def test_a_forwarded_client_ip_beside_a_peer_in_metadata_keeps_its_flag(
    make_document, to_span, to_document
):
    """A peer address from metadata.default says "not forwarded": the flag travels as itself."""
    document = make_document(
        http={"request": {"client_ip": "203.0.113.9", "x_forwarded_for": True}},
        metadata={"default": {"net.peer.ip": "10.0.0.5"}},
    )

    span = to_span(document)

    assert attributes_of(span)["aws.xray.x_forwarded_for"] is True
    back = to_document(span)
    assert (back["http"], back["metadata"]["default"]) == (
        document["http"],
        {"net.peer.ip": "10.0.0.5"},
    )


def test_a_server_span_falls_back_to_its_peer_address_for_the_client_ip(make_span, to_document):
    """The socket peer of a server is its client."""
    span = make_span(attributes={"http.method": "GET", "network.peer.address": "10.0.0.7"})

    assert to_document(span)["http"]["request"]["client_ip"] == "10.0.0.7"


def test_a_client_span_never_takes_its_peer_address_for_a_client_ip(make_span, to_document):
    """A client's peer is the server it called."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"http.request.method": "GET", "network.peer.address": "10.0.0.7"},
    )

    assert "client_ip" not in to_document(span)["http"]["request"]


def test_a_peer_address_alone_makes_no_url(make_span, to_document):
    """Without a scheme or a path there is no URL to rebuild (an AWS SDK call's endpoint)."""
    span = make_span(
        kind=CLIENT,
        parent_span_id=PARENT,
        attributes={"http.status_code": 200, "server.address": "dynamodb.us-east-1.amazonaws.com"},
    )

    assert to_document(span)["http"] == {"response": {"status": 200}}


def test_a_span_without_http_attributes_has_no_http_block(make_span, to_document):
    """A host alone does not make an HTTP span."""
    document = to_document(make_span(attributes={"server.address": "example.com"}))

    assert "http" not in document


def test_attributes_a_field_holds_are_not_repeated_in_metadata(make_span, to_document):
    """url.full and the method are in http; what the URL was rebuilt from stays in metadata."""
    document = to_document(make_span(attributes=STABLE_SERVER))

    assert sorted(document["metadata"]["default"]) == [
        "server.address",
        "server.port",
        "url.path",
        "url.query",
        "url.scheme",
    ]


def test_old_conventions_come_back_exactly(make_span, to_document, to_span):
    """The attributes a span had, not the stable names a document implies."""
    attributes = {"http.method": "GET", "http.url": "http://a.io/", "http.status_code": 404}
    span = make_span(kind=CLIENT, parent_span_id=PARENT, attributes=attributes)

    back = to_span(to_document(span))

    assert attributes_of(back) == attributes


def test_an_http_block_reads_back_as_stable_attributes(make_document, to_span):
    """X-Ray's fields become the stable HTTP conventions' attributes; a client IP not forwarded
    is also the peer's."""
    document = make_document(
        http={
            "request": {
                "method": "POST",
                "url": "http://shop.example.com/checkout",
                "user_agent": "acc-test/1.0",
                "client_ip": "10.1.2.3",
            },
            "response": {"status": 200, "content_length": 42},
        }
    )

    attributes = attributes_of(to_span(document))

    assert attributes == {
        "http.request.method": "POST",
        "url.full": "http://shop.example.com/checkout",
        "user_agent.original": "acc-test/1.0",
        "client.address": "10.1.2.3",
        "network.peer.address": "10.1.2.3",
        "http.response.status_code": 200,
        "http.response.body.size": 42,
    }


def test_forwarded_and_traced_flags_read_back_under_the_receivers_names(make_document, to_span):
    """x_forwarded_for and traced are aws.xray.x_forwarded_for and aws.xray.traced."""
    document = make_document(http={"request": {"x_forwarded_for": True, "traced": True}})

    attributes = attributes_of(to_span(document))

    assert attributes == {"aws.xray.x_forwarded_for": True, "aws.xray.traced": True}


def test_unknown_http_fields_travel_as_aws_xray_attributes(make_document, to_span, to_document):
    """A field no convention covers comes back to its place in the block."""
    document = make_document(http={"response": {"status": 200, "content_type": "text/html"}})

    span = to_span(document)

    assert attributes_of(span)["aws.xray.http.response.content_type"] == "text/html"
    assert to_document(span)["http"] == document["http"]
