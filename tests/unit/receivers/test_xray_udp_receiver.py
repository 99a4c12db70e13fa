"""The UDP receiver over a real socket on 127.0.0.1: a full feed holds it back, never drops."""

import socket
import threading

import pytest

from fluoroscope.config import Address
from fluoroscope.receivers.xray_udp import UdpReceiver
from fluoroscope.telemetry import Registry

HEADER = b'{"format":"json","version":1}\n'
QUEUE_FULL = ("fluoroscope_udp_datagrams_refused", "queue_full")


class RefusingSink:
    """Refuses every offer until told to take them, then keeps what it is given."""

    def __init__(self) -> None:
        self.taking = threading.Event()
        self.refusals = 0
        self.documents: list[bytes] = []

    def __call__(self, documents: list[bytes], size: int) -> bool:
        if not self.taking.is_set():
            self.refusals += 1
            return False
        self.documents.extend(documents)
        return True


@pytest.fixture
def receiving():
    """A receiver on an ephemeral port with a sink that starts out full."""
    sink = RefusingSink()
    registry = Registry()
    receiver = UdpReceiver(Address("127.0.0.1", 0), sink, registry, 1 << 20)
    bound = receiver.start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield receiver, sink, registry, (bound.host, bound.port), sender
    sender.close()
    receiver.stop()


def test_documents_refused_by_a_full_feed_are_offered_again_until_taken(receiving, wait_until):
    """Nothing is lost or counted as dropped while the feed is full; all arrives once it drains."""
    _, sink, registry, address, sender = receiving
    bodies = [b'{"n": %d}' % n for n in range(50)]
    for body in bodies:
        sender.sendto(HEADER + body, address)

    assert wait_until(lambda: sink.refusals >= 3)
    sink.taking.set()

    assert wait_until(lambda: len(sink.documents) == len(bodies))
    assert sorted(sink.documents) == sorted(bodies)
    assert registry.value(*QUEUE_FULL) == 0


def test_a_batch_still_held_at_stop_is_counted_as_dropped(receiving, wait_until):
    """Stopping gives up the held batch and counts every document in it."""
    receiver, sink, registry, address, sender = receiving
    sender.sendto(HEADER + b'{"n": 1}', address)
    assert wait_until(lambda: sink.refusals >= 1)

    receiver.stop()

    assert registry.value(*QUEUE_FULL) == 1
    assert sink.documents == []
