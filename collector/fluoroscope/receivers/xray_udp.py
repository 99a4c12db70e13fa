"""The X-Ray daemon's UDP protocol: ``{"format":"json","version":1}\\n<segment document>``.

Framing (:func:`frame`) is a pure function that follows the daemon exactly (xray-protocol.md
2.1-2.3): cut at the first newline, parse the header as JSON, accept ``format`` equal to
``json`` ignoring case with integer ``version`` 1, one document per datagram.

The socket is read in its own thread rather than by asyncio's datagram transport, which tops
out near 50,000 datagrams/s on a 2-core machine; :class:`DatagramReader` takes many datagrams per
system call without releasing the GIL per datagram, and each batch goes to the pipeline whole.

The sink takes a batch or refuses it. With the collector's disk spool (see
``fluoroscope.store.spool``), it refuses only when the in-memory feed and the spool are both full.
Then the reading thread holds its batch and stops reading: the datagrams behind it wait in the
socket's receive buffer, and what overflows it is dropped by the kernel, the cheapest place to
drop, and counted there (``fluoroscope_udp_kernel_drops``). Reading and framing datagrams only to
throw them away would take interpreter time from the pipeline just when it has none to spare.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from fluoroscope.config import Address
from fluoroscope.receivers.datagrams import DatagramReader
from fluoroscope.telemetry import Registry

log = logging.getLogger(__name__)

# The two spellings seen on the wire: the SDKs' and the developer guide's.
_KNOWN_HEADERS = frozenset({b'{"format":"json","version":1}', b'{"format": "json", "version": 1}'})
# How often the reading thread looks at its stop flag while the socket is quiet.
POLL_INTERVAL_S = 0.2
# Once a datagram is waiting, the reading thread lets others gather behind it for this long
# before it reads. Each wake-up costs a system call and a turn at the GIL taken from the
# pipeline; at 20,000 datagrams/s a read then takes about 40 instead of a few. 2 ms is nothing
# next to the second in which a segment must become queryable, and the socket's receive buffer
# holds far more than 2 ms of traffic.
GATHER_S = 0.002
# How often a batch held back by a full feed is offered again.
HOLD_RETRY_S = 0.005
# SO_RCVBUFFORCE: lets a privileged process exceed net.core.rmem_max.
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)

REFUSAL_REASONS = ("no_header", "bad_header", "too_large", "queue_full")


def frame(datagram: bytes) -> bytes | str:
    """Return the document of a datagram, or the reason it is refused."""
    header, newline, body = datagram.partition(b"\n")
    if not newline or not body.strip():
        return "no_header"
    if header not in _KNOWN_HEADERS and not _valid_header(header):
        return "bad_header"
    return body


def _valid_header(header: bytes) -> bool:
    try:
        parsed = orjson.loads(header)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(parsed, dict):
        return False
    # Go's json.Unmarshal matches object keys to struct fields ignoring case.
    fields = {str(key).lower(): value for key, value in parsed.items()}
    fmt = fields.get("format")
    version = fields.get("version")
    # Go's json.Unmarshal into an int refuses true, 1.0 and "1": only the integer 1 passes.
    return isinstance(fmt, str) and fmt.lower() == "json" and type(version) is int and version == 1


Sink = Callable[[list[bytes], int], bool]


class UdpReceiver:
    """Reads X-Ray datagrams and offers their documents to ``sink`` in batches.

    ``sink(documents, total_bytes)`` returns False when the batch is refused (the pipeline is
    full); the batch is offered again until it is taken, and nothing more is read meanwhile.
    A batch still held when the receiver stops is counted as dropped (``queue_full``).
    """

    def __init__(
        self, address: Address, sink: Sink, registry: Registry, receive_buffer_bytes: int
    ) -> None:
        self._address = address
        self._sink = sink
        self._receive_buffer = receive_buffer_bytes
        self._socket: socket.socket | None = None
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self.bound: Address | None = None
        self.receive_buffer_bytes = 0
        self._received = registry.counter(
            "fluoroscope_udp_datagrams_received", "Datagrams read from the UDP socket"
        ).child()
        self._bytes = registry.counter(
            "fluoroscope_udp_bytes_received", "Bytes read from the UDP socket"
        ).child()
        refused = registry.counter(
            "fluoroscope_udp_datagrams_refused",
            "Datagrams refused before parsing, by reason",
            ("reason",),
        )
        self._refused = {reason: refused.child(reason) for reason in REFUSAL_REASONS}
        registry.gauge(
            "fluoroscope_udp_kernel_drops",
            "Datagrams the kernel dropped because the socket buffer was full (from /proc/net)",
            self.kernel_drops,
        )

    def start(self) -> Address:
        """Bind the socket and start reading; return the bound address."""
        family = socket.AF_INET6 if ":" in self._address.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, self._receive_buffer)
        except OSError:  # unprivileged: capped at net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
        try:
            sock.bind((self._address.host, self._address.port))
        except OSError:
            sock.close()
            raise
        # Linux reports twice the usable size it allocated.
        self.receive_buffer_bytes = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
        host, port = sock.getsockname()[:2]
        self.bound = Address(host, port)
        self._socket = sock
        self._worker = threading.Thread(target=self._run, name="fluoroscope-udp", daemon=True)
        self._worker.start()
        return self.bound

    def stop(self) -> None:
        """Stop reading and close the socket; idempotent."""
        sock, self._socket = self._socket, None
        if sock is None:
            return
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(5.0)
        sock.close()

    def _run(self) -> None:
        sock = self._socket
        assert sock is not None
        reader = DatagramReader(sock)
        while not self._stopping.is_set():
            try:
                if not reader.wait(POLL_INTERVAL_S):
                    continue
                time.sleep(GATHER_S)
                while True:
                    datagrams, truncated = reader.read()
                    if truncated:
                        self._received.inc(truncated)
                        self._refused["too_large"].inc(truncated)
                    if not datagrams or not self._deliver(datagrams):
                        break
            except OSError as exc:
                if self._stopping.is_set():
                    break
                log.warning("UDP read failed: %s", exc)

    def _deliver(self, datagrams: list[bytes]) -> bool:
        """Frame a batch and hand it over, waiting while the feed is full; False if stopping."""
        refused = self._refused
        documents: list[bytes] = []
        size = 0
        received = 0
        for datagram in datagrams:
            length = len(datagram)
            if length == 0:
                continue  # the daemon ignores empty datagrams too
            received += 1
            size += length
            result = frame(datagram)
            if isinstance(result, str):
                refused[result].inc()
                continue
            documents.append(result)
        self._received.inc(received)
        self._bytes.inc(size)
        while documents and not self._sink(documents, size):
            if self._stopping.wait(HOLD_RETRY_S):
                refused["queue_full"].inc(len(documents))
                return False
        return True

    def kernel_drops(self) -> float:
        """Datagrams dropped by the kernel for this socket, read from /proc/net/udp{,6}."""
        sock = self._socket
        if sock is None:
            return 0.0
        return float(_proc_drops(os.fstat(sock.fileno()).st_ino))


def _proc_drops(inode: int) -> int:
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines: Iterable[str] = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 13 and fields[9] == str(inode):
                return int(fields[-1])
    return 0
