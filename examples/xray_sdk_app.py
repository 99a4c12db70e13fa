"""An app instrumented with the unmodified AWS X-Ray SDK for Python, sending to Fluoroscope.

Nothing here knows about Fluoroscope: the SDK sends to the X-Ray daemon address, and
Fluoroscope listens there. Run a collector, then:

    AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000 python examples/xray_sdk_app.py

and look the traces up with boto3 or the AWS CLI (see the README).
"""

import random
import time

from aws_xray_sdk.core import xray_recorder

# Sampling is off so that every request is recorded; streaming sends large traces in pieces,
# which Fluoroscope puts back together.
xray_recorder.configure(service="checkout", sampling=False, streaming_threshold=5)


@xray_recorder.capture("compute_total")
def compute_total(items: int) -> float:
    """A local step, recorded as a subsegment."""
    if items > 8:
        raise ValueError("too many items in the cart")
    return items * 9.99


def charge(amount: float) -> int:
    """A call to a downstream HTTP service, recorded as a remote subsegment."""
    subsegment = xray_recorder.begin_subsegment("payments.example.com", "remote")
    status = 502 if random.random() < 0.1 else 200
    subsegment.put_http_meta("url", "https://payments.example.com/charge")
    subsegment.put_http_meta("method", "POST")
    subsegment.put_http_meta("status", status)
    xray_recorder.end_subsegment()
    return status


def save_order(order_id: str) -> None:
    """A DynamoDB call, recorded as an aws subsegment (an inferred node on the service map)."""
    subsegment = xray_recorder.begin_subsegment("DynamoDB", "aws")
    subsegment.set_aws({"operation": "PutItem", "table_name": "orders", "region": "us-east-1"})
    xray_recorder.end_subsegment()
    del order_id


def handle_request(number: int) -> None:
    """One checkout request: a segment with annotations, metadata and subsegments."""
    segment = xray_recorder.begin_segment("checkout")
    segment.put_http_meta("url", f"http://shop.example.com/checkout?cart={number}")
    segment.put_http_meta("method", "POST")
    segment.put_annotation("customer", random.choice(["acme", "globex", "initech"]))
    segment.put_annotation("items", random.randint(1, 10))
    segment.put_annotation("vip", random.random() < 0.2)
    segment.put_metadata("cart", {"number": number}, "debug")
    segment.set_user(random.choice(["alice", "bob"]))
    status = 200
    try:
        amount = compute_total(int(segment.annotations["items"]))
        if charge(amount) != 200:
            status = 502
        save_order(f"order-{number}")
    except ValueError as exc:
        segment.add_exception(exc, stack=[])
        status = 500
    segment.put_http_meta("status", status)
    xray_recorder.end_segment()


if __name__ == "__main__":
    for request in range(20):
        handle_request(request)
        time.sleep(0.05)
    print("sent 20 traces")
