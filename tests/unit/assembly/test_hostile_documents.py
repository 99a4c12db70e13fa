"""Whatever a document holds, it is refused with an X-Ray error code or stored whole.

Real SDK captures, with fields replaced by arbitrary JSON values, removed, or cut short, go
through the pipeline's own stages: parsing, assembly with the rest of their trace, summarising,
and a real store's writer. Anything but a DocumentError at parsing would cost a batch of
innocent documents (or stop ingest), so the test fails on it. OTLP spans with the extreme
values protobuf can carry go the same way, through translation first.
"""

import math
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.errors import DocumentError
from fluoroscope.receivers.otlp_translation import PROTOBUF, translate
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document
from tests.unit.conftest import SCENARIOS, START, load_golden

COMMIT_TIMEOUT_S = 10.0

# Every capture's documents, as dicts, one list per trace.
TRACES = [
    [orjson.loads(body) for body in load_golden(name).bodies if body.startswith(b"{")]
    for name in SCENARIOS
]
# Where values are replaced: fields the model reads, at every level the SDKs write them.
FIELDS = (
    "id", "name", "trace_id", "start_time", "end_time", "in_progress", "parent_id", "type",
    "origin", "user", "namespace", "error", "fault", "throttle", "annotations", "metadata",
    "http", "aws", "sql", "cause", "subsegments", "resource_arn", "service", "precursor_ids",
)  # fmt: skip
NESTED = (
    ("http", "request"), ("http", "response"), ("http", "response", "status"),
    ("http", "request", "url"), ("http", "request", "method"), ("aws", "ec2"),
    ("aws", "ec2", "instance_id"), ("cause", "exceptions"), ("cause", "working_directory"),
    ("annotations", "customer"), ("annotations", "k"),
)  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what JSON encoders write
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
# Values of the kinds fields hold, so that more mutated documents pass validation and go on.
PLAUSIBLE = st.one_of(
    st.text(max_size=30),
    st.integers(0, 600),
    st.sampled_from([-1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]),
    st.floats(1.7e9, 1.9e9),
    st.booleans(),
    st.just("0123456789abcdef"),
    # Fresh ones each time: a shared empty dict, filled in by one example, could come back in
    # the next holding itself.
    st.builds(dict),
    st.builds(list),
)
PATHS = st.one_of(
    st.sampled_from(FIELDS).map(lambda field: (field,)),
    st.sampled_from(NESTED),
    st.sampled_from(FIELDS).map(lambda field: ("subsegments", 0, field)),
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[int, int, list[tuple[tuple[Any, ...], Any, bool]]]:
    """A trace, one of its documents, and what to do to it: (path, value, remove) each."""
    trace = draw(st.integers(0, len(TRACES) - 1))
    document = draw(st.integers(0, len(TRACES[trace]) - 1))
    changes = draw(
        st.lists(st.tuples(PATHS, JSON | PLAUSIBLE, st.booleans()), min_size=1, max_size=3)
    )
    return trace, document, changes


def _apply(document: dict[str, Any], path: tuple[Any, ...], value: Any, remove: bool) -> None:
    parent: Any = document
    for step in path[:-1]:
        if isinstance(parent, dict) and isinstance(step, str):
            parent = parent.setdefault(step, {})
        elif isinstance(parent, list) and isinstance(step, int) and step < len(parent):
            parent = parent[step]
        else:
            return
    if not isinstance(parent, dict):
        return
    if remove:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value


class Stages:
    """An assembler over a real store: documents in, and checks that all of them went through."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.registry = Registry()
        self.assembler = Assembler(store, self.registry)

    def take(self, raws: list[bytes]) -> list[str]:
        """Parse and add documents; the error codes of those refused."""
        codes = []
        for raw in raws:
            try:
                views = parse_document(raw)
            except DocumentError as exc:
                codes.append(exc.code)
                continue
            for view in views:
                self.assembler.add(view)
        return codes

    def store_and_check(self) -> None:
        """Flush; what was accepted is committed, and nothing failed or was dropped."""
        committed = threading.Event()
        if self.assembler.flush(committed.set):
            assert committed.wait(COMMIT_TIMEOUT_S)
        self.assembler.evict()
        assert self.store.writer.alive
        assert self.store.writer.dropped_batches == 0
        assert self.registry.value("fluoroscope_assembly_traces_failed") == 0


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory):
    """Pipeline stages over one real store, shared by the examples."""
    store = Store(Path(tmp_path_factory.mktemp("hostile")))
    store.open()
    yield Stages(store)
    store.close()


EXAMPLES = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(mutations(), st.booleans())
# Once stopped the writer: a status wider than an SQLite INTEGER.
@example((0, 0, [(("http", "response", "status"), 2**63, False)]), False)
def test_a_mutated_document_is_refused_or_stored(stages, mutation, cut):
    trace, index, changes = mutation
    documents = [orjson.loads(orjson.dumps(d)) for d in TRACES[trace]]
    for path, value, remove in changes:
        _apply(documents[index], path, value, remove)
    raws = [orjson.dumps(d) for d in documents]
    if cut:
        raws[index] = raws[index][: len(raws[index]) * 2 // 3]

    codes = stages.take(raws)

    assert all(codes)  # each refused with a code the protocol can carry
    stages.store_and_check()


BODIES = [body for name in SCENARIOS for body in load_golden(name).bodies]


@EXAMPLES
@given(
    st.sampled_from(BODIES),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
)
def test_a_document_with_bytes_changed_is_refused_or_stored(stages, body, flips):
    """Bytes overwritten anywhere (inside strings too, so not always UTF-8 any more)."""
    raw = bytearray(body)
    for where, value in flips:
        raw[int(where * len(raw))] = value

    codes = stages.take([bytes(raw)])

    assert all(codes)
    stages.store_and_check()


def _export_request(attributes: list[tuple[str, object]]) -> bytes:
    """An OTLP export request of one SERVER span with these attributes."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add()
    service = spans.resource.attributes.add()
    service.key, service.value.string_value = "service.name", "checkout"
    span = spans.scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex("6b065e19de34471773fb7a0c55f48339")
    span.span_id = bytes.fromhex("00000000000000a1")
    span.name, span.kind = "GET /", Span.SPAN_KIND_SERVER
    span.start_time_unix_nano = int(START * 1e9)
    span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    for key, value in attributes:
        item = span.attributes.add()
        item.key = key
        if isinstance(value, str):
            item.value.string_value = value
        elif isinstance(value, int):
            item.value.int_value = value
        else:
            assert isinstance(value, float)
            item.value.double_value = value
    return request.SerializeToString()


@pytest.mark.parametrize(
    "attributes",
    [
        [("http.response.status_code", math.nan)],
        [("http.response.status_code", math.inf)],
        [("http.response.status_code", 1e300)],
        [("http.status_code", -(2**63))],
        [("http.status_code", 2**63 - 1)],
        [("aws.xray.annotations", "k"), ("k", math.nan)],
        [("k", -math.inf)],
        [("http.response.body.size", math.nan)],
        [("url.full", "\u0000\ud7ff"), ("http.request.method", "\u0000" * 300)],
    ],
)
def test_a_span_with_extreme_values_is_refused_or_stored(stages, attributes):
    """What protobuf can carry (NaN, infinities, 64-bit extremes, control characters) becomes
    a document that is stored, or a span refused in partial_success."""
    translated = translate(_export_request(attributes), PROTOBUF, frozenset({"k"}))
    assert len(translated.documents) + sum(translated.reasons.values()) == 1

    assert stages.take(translated.documents) == []  # what translation makes, the parser takes
    stages.store_and_check()
