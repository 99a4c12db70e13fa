"""Realistic X-Ray segment documents, generated cheaply enough to send 60,000 a second.

Documents are laid out as aws-xray-sdk 2.15 writes them (wire-captures.md section 1): Python's
default JSON separators, the SDK's key order, ``"in_progress": false`` beside ``end_time``,
embedded subsegments carrying ``parent_id``, ``trace_id`` and ``"type": "subsegment"``, the
``aws.xray`` and ``service`` blocks, and ``fault``/``error``/``throttle`` set from the HTTP status
as ``put_http_meta`` sets them.

A trace is a chain of services. The entry segment (an HTTP request with annotations) makes a
DynamoDB call and a remote call; the next service's segment has that remote call as its
``parent_id`` and may call the next one in turn; the last one calls an AWS service or nothing.
Documents are sent deepest first, as services finish before their callers.

Sizes: as the SDK lays them out, these documents run from about 480 bytes (a service with no
subsegment) to about 1,300 (the entry segment with its two calls); three-service traces
average about 910. ``size`` pads the smaller documents with metadata towards the mean asked
for; it never shrinks a document.

Generating is cheap because everything that stays the same from trace to trace is rendered
once, into :data:`VARIANTS` shapes of trace (services, routes, statuses, customers, durations)
per generator. A trace then costs one counter, its times, and one ``%`` substitution per
document. Ids are unique: each holds a random per-generator prefix, the sender's number and the
trace counter.
"""

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

HEADER = b'{"format":"json","version":1}\n'
DEFAULT_SIZE = 700
MAX_SEGMENTS = 20
MAX_SIZE = 60_000
VARIANTS = 64
TIME_RESOLUTION_S = 0.05
_TICKS_PER_S = round(1 / TIME_RESOLUTION_S)

_SERVICES = (
    "checkout", "cart", "payments", "inventory", "shipping", "search", "users", "ads",
    "catalog", "pricing", "reviews", "notifications",
)  # fmt: skip
_ROUTES = (
    ("POST", "/api/orders"), ("GET", "/api/orders/{n}"), ("GET", "/api/cart"),
    ("PUT", "/api/cart/items"), ("GET", "/api/products"), ("DELETE", "/api/cart/items/{n}"),
)  # fmt: skip
_CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
_AGENTS = (
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64)",
    "curl/8.5.0",
)
_TABLES = (("PutItem", "orders"), ("GetItem", "sessions"), ("Query", "carts"))
# What the last service of a chain calls: a subsegment name and its aws block.
_LAST_CALLS: tuple[tuple[str, dict[str, str]], ...] = (
    ("DynamoDB", {"operation": "UpdateItem", "table_name": "stock"}),
    (
        "SQS",
        {"operation": "SendMessage", "queue_url": "https://sqs.us-east-1.amazonaws.com/1234/ev"},
    ),
    ("S3", {"operation": "PutObject", "bucket_name": "receipts"}),
)
# Mostly successes; a few client errors, throttles and faults, as a healthy service sees.
_STATUSES = (200,) * 52 + (201,) * 4 + (404,) * 3 + (429, 500, 502, 503)
# The metadata block that carries padding, as it sits in a document without its text.
_PADDING_BLOCK = ', "metadata": {"default": {"request_context": ""}}'

# The part of the trace's time that the entry segment's remote call takes.
_ENTRY_CALL = (0.3, 0.95)
# Placeholders, turned into format fields when a template is compiled: the trace counter and
# the trace id's epoch part (hex), and time fields t0, t1, ... (epoch seconds).
_COUNTER = "~c~"
_EPOCH = "~e~"
_PLACEHOLDER = re.compile(r'~c~|~e~|"~t([0-9]+)~"')


@dataclass(frozen=True, slots=True)
class _Template:
    """One document: a bytes %-format template, and which trace values fill its fields."""

    text: bytes
    values: Callable[[list[bytes]], tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class _Variant:
    """One shape of trace: its documents (sent in order) and its times."""

    templates: tuple[_Template, ...]
    # The offset of each time field from the trace's end, in seconds (zero or negative).
    offsets: tuple[float, ...]


class TraceGenerator:
    """Makes traces of ``segments`` documents each, with ids unique to this generator.

    ``size`` is the mean document size aimed at, without the daemon header: documents are
    padded with metadata towards it, and those larger by nature stay as they are. ``sender``
    (0-255) keeps apart the ids of generators made with the same seed.
    """

    def __init__(
        self, sender: int, segments: int, size: int = DEFAULT_SIZE, seed: int | None = None
    ) -> None:
        if not 1 <= segments <= MAX_SEGMENTS:
            raise ValueError(f"segments per trace must be 1-{MAX_SEGMENTS}")
        if not 0 <= sender <= 255:
            raise ValueError("sender must be 0-255")
        if not 0 < size <= MAX_SIZE:
            raise ValueError(f"the document size must be 1-{MAX_SIZE} bytes")
        rnd = random.Random(seed)
        # Trace ids: 14 random hex digits, the sender, the counter (24 in all). Entity ids:
        # 4 random hex digits, the sender, the counter, the entity's place in its trace.
        self._trace_prefix = f"{rnd.getrandbits(56):014x}{sender:02x}"
        self._id_prefix = f"{rnd.getrandbits(16):04x}{sender:02x}"
        self.segments = segments
        self._variants = [self._variant(rnd, index, size) for index in range(VARIANTS)]
        # Per variant: the tick its times were formatted for, then [epoch, t0, t1, ...].
        self._times: list[tuple[int, list[bytes]]] = [(-1, [])] * VARIANTS
        self.count = 0

    def trace(self, now: float | None = None) -> tuple[str, list[bytes]]:
        """The next trace, ending at ``now`` (default: the current time): its id and datagrams.

        Each datagram is the daemon header and one document. ``now`` is rounded down to
        :data:`TIME_RESOLUTION_S`, so that a variant's times are formatted once per tick rather
        than once per trace (formatting floats is the costly part of making a document).
        """
        if now is None:
            now = time.time()
        n = self.count & 0xFFFF_FFFF  # eight hex digits in every id
        self.count += 1
        index = n % VARIANTS
        variant = self._variants[index]
        tick = int(now * _TICKS_PER_S)
        times = self._times[index]
        if times[0] != tick:
            end = tick / _TICKS_PER_S
            times = self._times[index] = (
                tick,
                [b"%08x" % int(end + variant.offsets[0])]
                + [b"%.6f" % (end + offset) for offset in variant.offsets],
            )
        counter = b"%08x" % n
        values = [counter, *times[1]]
        trace_id = f"1-{times[1][0].decode()}-{self._trace_prefix}{counter.decode()}"
        return trace_id, [t.text % t.values(values) for t in variant.templates]

    # Building the variants runs once per generator: clarity over speed from here on.

    def _variant(self, rnd: random.Random, index: int, size: int) -> _Variant:
        chain = [_SERVICES[(index + k * 5) % len(_SERVICES)] for k in range(self.segments)]
        status = rnd.choice(_STATUSES)
        # Log-uniform from 15 ms to 1.2 s; faults tend to be slow.
        duration = 0.015 * 80 ** rnd.random() * (2.0 if status >= 500 else 1.0)
        layout = _Layout(self._trace_prefix, self._id_prefix, duration)
        documents = [_entry(layout, rnd, index, chain, status)]
        documents += [_downstream(layout, rnd, depth, chain) for depth in range(1, len(chain))]
        documents.reverse()  # callees finish, and send, before their callers
        # Each variant aims at its own size around ``size``: sizes vary, their mean does not.
        target = round(size * (0.9 + 0.2 * index / (VARIANTS - 1)))
        texts = _pad([json.dumps(d) for d in documents], target, layout.sample)
        return _Variant(tuple(_compile(text) for text in texts), tuple(layout.offsets))


class _Layout:
    """Ids and time placeholders for the documents of one variant."""

    def __init__(self, trace_prefix: str, id_prefix: str, duration: float) -> None:
        self.trace_id = f"1-{_EPOCH}-{trace_prefix}{_COUNTER}"
        self._id_prefix = id_prefix
        self._duration = duration
        self.offsets: list[float] = []

    def id(self, place: int) -> str:
        """The id of the entity at ``place`` in the trace."""
        return f"{self._id_prefix}{_COUNTER}{place:02x}"

    def time(self, fraction: float) -> str:
        """A placeholder for the moment ``fraction`` of the way through the trace."""
        self.offsets.append(round(self._duration * (fraction - 1.0), 6))
        return f"~t{len(self.offsets) - 1}~"

    def span(self, low: float, high: float) -> tuple[str, str]:
        """Placeholders for a start and an end."""
        return self.time(low), self.time(high)

    def sample(self, text: str) -> str:
        """``text`` with each placeholder replaced by a value as wide as the real ones."""
        text = text.replace(_COUNTER, "0" * 8).replace(_EPOCH, "0" * 8)
        return re.sub(r'"~t[0-9]+~"', "1767225600.000000", text)

    def subsegment(
        self,
        place: int,
        name: str,
        parent: str,
        times: tuple[str, str],
        namespace: str,
        detail: dict[str, object],
        status: int = 200,
    ) -> dict[str, object]:
        """An embedded subsegment, keys in the SDK's order; ``detail`` is its http or aws."""
        entity: dict[str, object] = {
            "id": self.id(place),
            "name": name,
            "start_time": times[0],
            "parent_id": parent,
            "in_progress": False,
            **detail,
            "trace_id": self.trace_id,
            "type": "subsegment",
            "namespace": namespace,
            **_flags(status),
            "end_time": times[1],
        }
        return entity


def _entry(
    layout: _Layout, rnd: random.Random, index: int, chain: list[str], status: int
) -> dict[str, object]:
    method, route = _ROUTES[index % len(_ROUTES)]
    customer = _CUSTOMERS[index % len(_CUSTOMERS)]
    operation, table = _TABLES[index % len(_TABLES)]
    own = layout.id(0)
    start = layout.time(0.0)
    calls = [
        layout.subsegment(
            1, "DynamoDB", own, layout.span(0.05, 0.25), "aws",
            {"aws": {"operation": operation, "region": "us-east-1", "table_name": table}},
        ),
    ]  # fmt: skip
    if len(chain) > 1:
        callee_status = 503 if status >= 500 else 200
        calls.append(
            layout.subsegment(
                2, chain[1], own, layout.span(*_ENTRY_CALL), "remote",
                {"http": {"request": {"url": f"http://{chain[1]}:8080/reserve", "method": "POST"},
                          "response": {"status": callee_status}}},
                callee_status,
            )
        )  # fmt: skip
    return {
        "id": own,
        "name": chain[0],
        "start_time": start,
        "in_progress": False,
        "http": {
            "request": {
                "url": f"https://{chain[0]}.example.com{route.replace('{n}', _COUNTER)}",
                "method": method,
                "user_agent": _AGENTS[index % len(_AGENTS)],
                "client_ip": f"203.0.113.{rnd.randrange(1, 255)}",
            },
            "response": {"status": status},
        },
        "annotations": {"customer": customer, "order_id": _COUNTER, "vip": index % 7 == 0},
        "aws": {"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}},
        "subsegments": calls,
        "trace_id": layout.trace_id,
        "service": {"runtime": "CPython", "runtime_version": "3.11.7"},
        **_flags(status),
        "end_time": layout.time(1.0),
    }


def _downstream(
    layout: _Layout, rnd: random.Random, depth: int, chain: list[str]
) -> dict[str, object]:
    own = layout.id(2 * depth + 1)
    # The entry segment's remote call spans 0.3-0.95 of the trace. Each service runs inside
    # its caller's call (less 5% at each end) and makes its own call in its middle (less 20% at
    # each end), so every service is nested in the one before it.
    segment = call = _ENTRY_CALL
    for _ in range(depth):
        segment = _shrink(call, 0.05)
        call = _shrink(segment, 0.2)
    times = layout.span(*segment)
    inner = layout.span(*call)
    calls: list[dict[str, object]] = []
    if depth + 1 < len(chain):
        callee = chain[depth + 1]
        calls.append(
            layout.subsegment(
                2 * depth + 2, callee, own, inner, "remote",
                {"http": {"request": {"url": f"http://{callee}:8080/reserve", "method": "POST"},
                          "response": {"status": 200}}},
            )
        )  # fmt: skip
    elif rnd.random() < 0.25:  # the last service: some call AWS, most only compute
        name, aws = _LAST_CALLS[rnd.randrange(len(_LAST_CALLS))]
        calls.append(layout.subsegment(2 * depth + 2, name, own, inner, "aws", {"aws": aws}))
    return {
        "id": own,
        "name": chain[depth],
        "start_time": times[0],
        "parent_id": layout.id(2 * depth),
        "in_progress": False,
        "http": {
            "request": {"url": f"http://{chain[depth]}:8080/reserve", "method": "POST"},
            "response": {"status": 200},
        },
        "annotations": {"shard": rnd.randrange(16)},
        "aws": {"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}},
        **({"subsegments": calls} if calls else {}),
        "trace_id": layout.trace_id,
        "service": {"runtime": "CPython", "runtime_version": "3.11.7"},
        "end_time": times[1],
    }


def _shrink(span: tuple[float, float], fraction: float) -> tuple[float, float]:
    low, high = span
    return low + (high - low) * fraction, high - (high - low) * fraction


def _flags(status: int) -> dict[str, bool]:
    """``fault``/``error``/``throttle`` as the SDK's ``put_http_meta("status", ...)`` sets them."""
    if status >= 500:
        return {"fault": True}
    if status == 429:
        return {"throttle": True, "error": True}
    if status >= 400:
        return {"error": True}
    return {}


def _pad(texts: list[str], target: int, sample: Callable[[str], str]) -> list[str]:
    """Pad the smaller documents with metadata so that their mean size comes near ``target``.

    The ``k`` smallest documents are raised to a common level, with ``k`` and the level chosen
    so that the mean is ``target`` and no document is made smaller; a document is left alone
    when the metadata block would not fit in its share.
    """
    sizes = [len(sample(text)) for text in texts]
    ordered = sorted(sizes)
    goal = target * len(texts)
    level = 0
    for k in range(len(ordered), 0, -1):
        level = (goal - sum(ordered[k:])) // k
        if level >= ordered[k - 1]:
            break
    padded = []
    for text, size in zip(texts, sizes, strict=True):
        room = level - size - len(_PADDING_BLOCK)
        if room > 0:
            # The metadata block goes after the annotations, as the SDK orders its keys.
            block = _PADDING_BLOCK.replace('""', json.dumps(_padding(room)))
            padded.append(text.replace(', "aws": {"xray"', block + ', "aws": {"xray"', 1))
        else:
            padded.append(text)
    return padded


def _padding(length: int) -> str:
    """Opaque text of ``length`` characters, like the session blobs apps attach as metadata."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return (alphabet * (length // len(alphabet) + 1))[:length]


def _compile(text: str) -> _Template:
    """A document with placeholders as a positional %-format template over a trace's values.

    A trace's values are ``[counter, epoch, t0, t1, ...]``, each already formatted.
    """
    positions: list[int] = []

    def field(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            positions.append(2 + int(match.group(1)))
        else:
            positions.append(0 if match.group(0) == _COUNTER else 1)
        return "%s"

    body = _PLACEHOLDER.sub(field, text.replace("%", "%%"))
    # Every document has an id and a trace id, so at least two fields: itemgetter returns a
    # tuple only when given more than one index.
    assert len(positions) > 1
    return _Template(HEADER + body.encode(), itemgetter(*positions))
