"""What the X-Ray daemon and the SDK samplers send over HTTP, reproduced request for request.

The Go daemon cannot be installed here, so its forwarding request is rebuilt from its source
(xray-protocol.md 2.4): one PutTraceSegments of up to 50 raw UDP payloads passed through as
strings, SigV4-signed with the daemon's credentials, with its own User-Agent suffix and
``X-Amzn-Xray-Timestamp`` header.
"""

import json
import time
import urllib.request

from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.compat.documents import dumps, folded, segment, subsegment
from tests.compat.queries import get_traces, the_document

DAEMON_USER_AGENT = (
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/xray#1.27.3"
    " xray-agent/xray-daemon/3.3.13 exec-env/UNKNOWN OS/linux-amd64"
)
DAEMON_BATCH = 50


def _daemon_request(endpoint_url, payloads):
    """The daemon's PutTraceSegments: raw payloads as strings, signed, with its headers."""
    body = json.dumps({"TraceSegmentDocuments": payloads}, separators=(",", ":"))
    request = AWSRequest(
        method="POST",
        url=endpoint_url + "/TraceSegments",
        data=body.encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": DAEMON_USER_AGENT,
            "X-Amzn-Xray-Timestamp": f"{time.time():.9f}",
        },
    )
    credentials = Credentials("AKIDDAEMON", "daemon-secret-key")
    SigV4Auth(credentials, "xray", "us-east-1").add_auth(request)
    return request.prepare()


def _send(prepared):
    request = urllib.request.Request(
        prepared.url, data=prepared.body, method="POST", headers=dict(prepared.headers)
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, json.loads(reply.read())


def test_a_daemon_batch_of_50_raw_documents_is_stored(collector, xray):
    """A signed daemon batch of streamed subsegments and segments is stored and reassembled."""
    trees = []
    for _ in range(DAEMON_BATCH // 5):
        root = segment()
        children = [subsegment(root, name=f"step{i}", offset=0.001 * i) for i in range(4)]
        trees.append((root, children))
    payloads = [dumps(doc) for root, children in trees for doc in (*children, root)]
    prepared = _daemon_request(collector.endpoint_url, payloads)

    status, reply = _send(prepared)

    found = get_traces(xray, [root["trace_id"] for root, _ in trees])
    assert prepared.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDDAEMON/")
    assert (status, reply) == (200, {"UnprocessedTraceSegments": []})
    for root, children in trees:
        expected = {root["id"]: None} | {child["id"]: root["id"] for child in children}
        assert folded(the_document(found[root["trace_id"]])) == expected


def test_a_daemon_batch_reports_refusals_by_document_id(collector):
    """The daemon matches refusals to its raw documents by id, so each carries its own."""
    good, bad = segment(), segment(name="check<out>")
    prepared = _daemon_request(collector.endpoint_url, [dumps(good), dumps(bad)])

    status, reply = _send(prepared)

    assert status == 200
    assert [(entry["Id"], entry["ErrorCode"]) for entry in reply["UnprocessedTraceSegments"]] == [
        (bad["id"], "InvalidName")
    ]


def test_an_unsigned_request_is_accepted(collector, xray, make_client):
    """Requests with no Authorization header at all, as SDK samplers send, are served."""
    client = make_client(collector, signature_version=UNSIGNED)
    sent_headers = []
    client.meta.events.register(
        "before-send.xray.PutTraceSegments",
        lambda request, **_: sent_headers.append(dict(request.headers)),
    )
    document = segment()

    reply = client.put_trace_segments(TraceSegmentDocuments=[dumps(document)])

    trace = get_traces(xray, [document["trace_id"]])[document["trace_id"]]
    assert "Authorization" not in sent_headers[0]
    assert reply["UnprocessedTraceSegments"] == []
    assert the_document(trace) == document
