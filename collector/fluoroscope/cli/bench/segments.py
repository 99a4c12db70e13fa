"""Realistic X-Ray segment documents, generated cheaply enough to send 60,000 a second.

Documents are laid out as aws-xray-sdk 2.15 writes them (wire-captures.md section 1): Python's
default JSON separators, the SDK's key order, ``"in_progress": false`` beside ``end_time``,
embedded subsegments carrying ``parent_id``, ``trace_id`` and ``"type": "subsegment"``, the
``aws.xray`` and ``service`` blocks, and ``fault``/``error``/``throttle`` set from the status as
``put_http_meta`` sets them.

A trace is a chain of services: the entry segment (an HTTP request, annotations, a DynamoDB call
and a remote call) calls a downstream service whose segment's ``parent_id`` is that remote call,
which may call the next one, and so on; the last calls an AWS service. Documents are sent
deepest first, as services finish before their callers do.

Generation is cheap because everything that does not change from trace to trace is rendered
once, into a few dozen *variants* (services, routes, statuses, customers, durations) per
generator: a trace is one ``%`` substitution per document of its trace id, a counter and its
times. Ids are unique: each holds a random per-generator prefix, the sender's number and a
trace counter.
"""

import json
import random
from dataclasses import dataclass

HEADER = '{"format":"json","version":1}\n'
HEADER_BYTES = HEADER.encode()
DEFAULT_SIZE = 700
MAX_SEGMENTS = 20
MAX_SIZE = 60_000
VARIANTS = 64

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
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
)
_TABLES = (("PutItem", "orders"), ("GetItem", "sessions"), ("Query", "carts"))
# Calls the last service in a chain makes: (name, aws block).
_LAST_CALLS: tuple[tuple[str, dict[str, str]], ...] = (
    ("DynamoDB", {"operation": "UpdateItem", "table_name": "stock"}),
    ("SQS", {"operation": "SendMessage",
             "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/events"}),
    ("S3", {"operation": "PutObject", "bucket_name": "receipts"}),
)  # fmt: skip
# Mostly successes; a few client errors, throttles and faults, as a healthy service sees.
_STATUSES = (200,) * 52 + (201,) * 4 + (404,) * 3 + (429, 500, 502, 503)

# Placeholders: "@c@" is the trace counter and "@e@" the trace id's epoch part (both hex);
# "@t0@".."@t9@" are times. They are turned into %-format fields when a template is compiled.
_COUNTER = "@c@"
_EPOCH = "@e@"


def _time_field(index: int) -> str:
    return f"@t{index}@"


@dataclass(frozen=True, slots=True)
class _Variant:
    """Compiled templates for one shape of trace, and the time offsets they use."""

    # One %-format template per document, deepest (sent first) to the entry segment.
    templates: tuple[str, ...]
    # The offset of each time field t0, t1, ... from the entry segment's start, in seconds.
    offsets: tuple[float, ...]
    duration: float


class TraceGenerator:
    """Makes traces of ``segments`` documents each, with ids unique to this generator.

    ``size`` is the mean document size aimed at (without the daemon header); documents that are
    larger by nature stay as they are. ``sender`` (0-255) keeps the ids of generators that share
    a seed apart.
    """

    def __init__(
        self,
        sender: int,
        segments: int,
        size: int = DEFAULT_SIZE,
        seed: int | None = None,
    ) -> None:
        if not 1 <= segments <= MAX_SEGMENTS:
            raise ValueError(f"segments per trace must be 1-{MAX_SEGMENTS}")
        if not 0 <= sender <= 255:
            raise ValueError("sender must be 0-255")
        if not 0 < size <= MAX_SIZE:
            raise ValueError(f"document size must be 1-{MAX_SIZE} bytes")
        rnd = random.Random(seed)
        # Trace ids: 14 random hex digits, the sender, then the counter (24 in all). Entity ids:
        # 4 random hex digits, the sender, the counter, then the entity's place in the trace.
        self._trace_prefix = f"{rnd.getrandbits(56):014x}{sender:02x}"
        self._id_prefix = f"{rnd.getrandbits(16):04x}{sender:02x}"
        self.segments = segments
        self._variants = [self._variant(rnd, v, size) for v in range(VARIANTS)]
        self._count = 0

    @property
    def count(self) -> int:
        """How many traces were made."""
        return self._count

    def trace(self, now: float) -> tuple[str, list[bytes]]:
        """The next trace, ended at ``now``: its id and its datagrams (header included)."""
        n = self._count
        self._count = n + 1
        variant = self._variants[n % VARIANTS]
        start = now - variant.duration
        fields: dict[str, object] = {"c": f"{n:08x}", "e": f"{int(start):08x}"}
        for index, offset in enumerate(variant.offsets):
            fields[f"t{index}"] = start + offset
        trace_id = f"1-{fields['e']}-{self._trace_prefix}{fields['c']}"
        return trace_id, [(template % fields).encode() for template in variant.templates]

    # Building the variants: runs once per generator, so clarity matters more than speed.

    def _variant(self, rnd: random.Random, index: int, size: int) -> _Variant:
        chain = [_SERVICES[(index + k * 5) % len(_SERVICES)] for k in range(self.segments)]
        status = rnd.choice(_STATUSES)
        # Log-uniform durations from 15 ms to 1.2 s; faults tend to be slow.
        duration = round(0.015 * 80 ** rnd.random() * (2.0 if status >= 500 else 1.0), 6)
        builder = _Builder(self._trace_prefix, self._id_prefix, duration)
        documents = [self._entry(builder, rnd, index, chain, status)]
        for depth in range(1, self.segments):
            documents.append(self._downstream(builder, rnd, depth, chain))
        # A variant's documents are padded to its own target around ``size``, so that sizes
        # vary from trace to trace while their mean stays near ``size``.
        target = round(size * (0.9 + 0.2 * index / (VARIANTS - 1)))
        templates = tuple(builder.compile(doc, target) for doc in reversed(documents))
        return _Variant(templates, tuple(builder.offsets), duration)

    def _entry(
        self, b: "_Builder", rnd: random.Random, index: int, chain: list[str], status: int
    ) -> dict[str, object]:
        method, route = _ROUTES[index % len(_ROUTES)]
        path = route.replace("{n}", _COUNTER)
        customer = _CUSTOMERS[index % len(_CUSTOMERS)]
        table_op, table = _TABLES[index % len(_TABLES)]
        own = b.id(0)
        db_start, db_end = b.span(0.05, 0.25)
        subsegments: list[dict[str, object]] = [
            b.subsegment(
                1, "DynamoDB", own, db_start, db_end, "aws",
                aws={"operation": table_op, "region": "us-east-1",
                     "request_id": f"{_COUNTER}V4KQNSO5AEMVJF66Q9ASUAAJG",
                     "table_name": table, "retries": 0},
            ),
        ]  # fmt: skip
        if len(chain) > 1:
            call_start, call_end = b.span(0.3, 0.9)
            subsegments.append(
                b.subsegment(
                    2, f"{chain[1]}.internal", own, call_start, call_end, "remote",
                    http={"request": {"url": f"http://{chain[1]}.internal/v1/reserve",
                                      "method": "POST"},
                          "response": {"status": 200 if status < 500 else 503,
                                       "content_length": 87}},
                    flags=_flags(200 if status < 500 else 503),
                )
            )  # fmt: skip
        document: dict[str, object] = {
            "id": own,
            "name": chain[0],
            "start_time": b.time(0.0),
            "in_progress": False,
            "http": {
                "request": {
                    "url": f"https://{chain[0]}.example.com{path}",
                    "method": method,
                    "user_agent": _AGENTS[index % len(_AGENTS)],
                    "client_ip": f"203.0.113.{rnd.randrange(1, 255)}",
                },
                "response": {"status": status, "content_length": rnd.randrange(80, 4000)},
            },
            "annotations": {
                "customer": customer,
                "order_id": _COUNTER,
                "items": rnd.randrange(1, 12),
                "vip": index % 7 == 0,
            },
            "metadata": {},
            "aws": {"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}},
            "subsegments": subsegments,
            "trace_id": b.trace_id,
        }
        if index % 3 == 0:
            document["user"] = f"user-{customer}"
        document["service"] = {"runtime": "CPython", "runtime_version": "3.11.7"}
        document.update(_flags(status))
        document["end_time"] = b.time(1.0)
        return document

    def _downstream(
        self, b: "_Builder", rnd: random.Random, depth: int, chain: list[str]
    ) -> dict[str, object]:
        own = b.id(2 * depth + 1)
        caller = b.id(2 * depth)
        # Each service runs inside its caller's remote call, a little shorter at each step.
        low, high = 0.3 + 0.05 * depth, 0.9 - 0.05 * depth
        start, end = b.span(low, high)
        inner_low, inner_high = low + (high - low) * 0.2, low + (high - low) * 0.8
        if depth + 1 < len(chain):
            callee = chain[depth + 1]
            call_start, call_end = b.span(inner_low, inner_high)
            child = b.subsegment(
                2 * depth + 2, f"{callee}.internal", own, call_start, call_end, "remote",
                http={"request": {"url": f"http://{callee}.internal/v1/reserve",
                                  "method": "POST"},
                      "response": {"status": 200, "content_length": 87}},
            )  # fmt: skip
        else:
            name, aws = _LAST_CALLS[rnd.randrange(len(_LAST_CALLS))]
            call_start, call_end = b.span(inner_low, inner_high)
            child = b.subsegment(
                2 * depth + 2, name, own, call_start, call_end, "aws",
                aws={**aws, "region": "us-east-1", "retries": 0},
            )  # fmt: skip
        return {
            "id": own,
            "name": chain[depth],
            "start_time": start,
            "parent_id": caller,
            "in_progress": False,
            "http": {
                "request": {
                    "url": f"http://{chain[depth]}.internal/v1/reserve",
                    "method": "POST",
                    "client_ip": f"10.0.{depth}.{rnd.randrange(1, 255)}",
                },
                "response": {"status": 200, "content_length": 87},
            },
            "annotations": {"region": "us-east-1", "shard": rnd.randrange(16)},
            "metadata": {},
            "aws": {"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}},
            "subsegments": [child],
            "trace_id": b.trace_id,
            "service": {"runtime": "CPython", "runtime_version": "3.11.7"},
            "end_time": end,
        }


class _Builder:
    """Lays out one variant's documents with placeholders, then compiles them to templates."""

    def __init__(self, trace_prefix: str, id_prefix: str, duration: float) -> None:
        self.trace_id = f"1-{_EPOCH}-{trace_prefix}{_COUNTER}"
        self._id_prefix = id_prefix
        self._duration = duration
        self.offsets: list[float] = []

    def id(self, place: int) -> str:
        """The id of the entity at ``place`` in the trace."""
        return f"{self._id_prefix}{_COUNTER}{place:02x}"

    def time(self, fraction: float) -> str:
        """A placeholder for the time ``fraction`` of the way through the trace."""
        self.offsets.append(round(self._duration * fraction, 6))
        return _time_field(len(self.offsets) - 1)

    def span(self, low: float, high: float) -> tuple[str, str]:
        """Placeholders for a start and an end time."""
        return self.time(low), self.time(high)

    def subsegment(
        self,
        place: int,
        name: str,
        parent: str,
        start: str,
        end: str,
        namespace: str,
        *,
        http: dict[str, object] | None = None,
        aws: dict[str, object] | None = None,
        flags: dict[str, bool] | None = None,
    ) -> dict[str, object]:
        """An embedded subsegment, keys in the SDK's order."""
        entity: dict[str, object] = {
            "id": self.id(place),
            "name": name,
            "start_time": start,
            "parent_id": parent,
            "in_progress": False,
        }
        if http is not None:
            entity["http"] = http
        if aws is not None:
            entity["aws"] = aws
        entity.update(trace_id=self.trace_id, type="subsegment", namespace=namespace)
        entity.update(flags or {})
        entity["end_time"] = end
        return entity

    def compile(self, document: dict[str, object], target: int) -> str:
        """The document as a %-format template, padded with metadata towards ``target`` bytes."""
        metadata: dict[str, dict[str, str]] = {}
        document["metadata"] = metadata
        natural = len(self._render(json.dumps(document)))
        if natural < target:
            metadata["default"] = {"request_context": ""}
            padding = target - len(self._render(json.dumps(document)))
            metadata["default"]["request_context"] = _padding(max(0, padding))
        else:
            del document["metadata"]
        return self._compile(HEADER + json.dumps(document))

    def _render(self, text: str) -> str:
        """A sample rendering, for measuring: placeholders replaced by values of their width."""
        text = text.replace(_COUNTER, "0" * 8).replace(_EPOCH, "0" * 8)
        for index in range(len(self.offsets)):
            text = text.replace(f'"{_time_field(index)}"', "1767225600.000000")
        return text

    def _compile(self, text: str) -> str:
        text = text.replace("%", "%%").replace(_COUNTER, "%(c)s").replace(_EPOCH, "%(e)s")
        for index in range(len(self.offsets)):
            text = text.replace(f'"{_time_field(index)}"', f"%(t{index}).6f")
        return text


def _flags(status: int) -> dict[str, bool]:
    """``fault``/``error``/``throttle`` as the SDK's ``put_http_meta("status", ...)`` sets them."""
    if status >= 500:
        return {"fault": True}
    if status == 429:
        return {"throttle": True, "error": True}
    if status >= 400:
        return {"error": True}
    return {}


def _padding(length: int) -> str:
    """Opaque text of ``length`` characters, like the session blobs apps attach as metadata."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return (alphabet * (length // len(alphabet) + 1))[:length]
