"""Shared fixtures for the unit tests: golden X-Ray captures, document factories, a clock."""

import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.gate import SamplingGate
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.model.segment import Document
from fluoroscope.store.memory import InMemoryTraceSink
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "xray"
SCENARIOS = sorted(path.name.removesuffix(".jsonl") for path in GOLDEN_DIR.glob("*.jsonl"))

# A trace id minted by an X-Ray SDK on 2026-11-25 (the epoch of the golden captures).
TRACE_ID = "1-6b065e19-de34471773fb7a0c55f48339"
START = 1795579417.0

# Summary fields compared as unordered lists of objects.
_UNORDERED = ("ServiceIds", "Users")


@dataclass(frozen=True)
class Golden:
    """One captured scenario: its datagrams as received and what they must produce."""

    name: str
    datagrams: list[bytes]
    expected: dict[str, Any]

    @property
    def bodies(self) -> list[bytes]:
        """Each datagram's document: everything after the first newline."""
        return [datagram.partition(b"\n")[2] for datagram in self.datagrams]

    def documents(self) -> list[Document]:
        """Every top-level view, in arrival order."""
        return [document for body in self.bodies for document in parse_document(body)]

    def assert_summary(self, api: dict[str, Any], *, revision: bool = True) -> None:
        """Check a ``TraceSummary`` API structure against the expected one."""
        expected = dict(self.expected["summary"])
        if not revision:
            expected.pop("Revision")
        for key, value in expected.items():
            actual = api.get(key)
            if key in ("StartTime", "Duration", "ResponseTime") and value is not None:
                assert actual == pytest.approx(value, abs=1e-6), key
            elif key in _UNORDERED:
                assert _sorted(actual) == _sorted(value), key
            elif key == "Annotations":
                assert {k: _sorted(v) for k, v in actual.items()} == {
                    k: _sorted(v) for k, v in value.items()
                }, key
            else:
                assert actual == value, key


def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def load_golden(name: str) -> Golden:
    """Read ``<name>.jsonl`` and ``<name>.expected.json`` from the fixture folder."""
    lines = (GOLDEN_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    expected = json.loads((GOLDEN_DIR / f"{name}.expected.json").read_text(encoding="utf-8"))
    return Golden(name, [json.loads(line).encode("utf-8") for line in lines], expected)


@pytest.fixture(params=SCENARIOS)
def golden(request: pytest.FixtureRequest) -> Golden:
    """Each golden scenario in turn."""
    return load_golden(request.param)


@pytest.fixture
def golden_named() -> Callable[[str], Golden]:
    """Load one golden scenario by name."""
    return load_golden


@pytest.fixture
def make_document() -> Callable[..., dict[str, Any]]:
    """Build a valid, completed segment document; keyword arguments override its fields.

    Ids are 0000000000000001, 0000000000000002, ... in call order. ``omit`` names fields to
    leave out; ``in_progress=True`` leaves out ``end_time``.
    """
    ids = itertools.count(1)

    def make(*, omit: Iterable[str] = (), **fields: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": f"{next(ids):016x}",
            "name": "checkout",
            "trace_id": TRACE_ID,
            "start_time": START,
            "end_time": START + 1.0,
        }
        if fields.get("in_progress") is True:
            del document["end_time"]
        document.update(fields)
        for key in omit:
            document.pop(key, None)
        return document

    return make


@pytest.fixture
def parse() -> Callable[[dict[str, Any]], Document]:
    """Encode a single-document dict and parse it into its one view."""

    def parse_one(document: dict[str, Any]) -> Document:
        (view,) = parse_document(orjson.dumps(document))
        return view

    return parse_one


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = START + 10.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A manual clock, shared by whatever a test builds."""
    return Clock()


@dataclass
class Harness:
    """An assembler over a sink (in memory unless a test brings a Store), with its counters."""

    assembler: Assembler
    sink: InMemoryTraceSink | Store
    registry: Registry

    def add(self, *documents: dict[str, Any] | bytes) -> list[str | None]:
        """Parse and add documents (dicts or raw bytes); return what ``add`` said for each."""
        results = []
        for document in documents:
            raw = document if isinstance(document, bytes) else orjson.dumps(document)
            results.extend(self.assembler.add(view) for view in parse_document(raw))
        return results

    def counter(self, name: str, *labels: str) -> int:
        """A counter's value."""
        return self.registry.value(name, *labels)

    def evicted(self, reason: str) -> int:
        """How many traces were evicted for ``reason``."""
        return self.counter("fluoroscope_assembly_traces_evicted", reason)

    def summary(self, trace_id: str = TRACE_ID) -> dict[str, Any]:
        """The stored summary of a trace, as the API returns it (in-memory sink only)."""
        assert isinstance(self.sink, InMemoryTraceSink)
        return self.sink.summaries[trace_id].to_api()


@pytest.fixture
def make_harness(clock: Clock) -> Callable[..., Harness]:
    """Build assemblers on the shared clock; ``sink`` lets two share one store."""

    def make(
        sink: InMemoryTraceSink | Store | None = None,
        gate: Callable[[Registry], SamplingGate] | None = None,
        **limits: Any,
    ) -> Harness:
        sink = sink if sink is not None else InMemoryTraceSink()
        registry = Registry()
        assembler = Assembler(
            sink,
            registry,
            AssemblyLimits(**limits),
            now=clock,
            gate=gate(registry) if gate is not None else None,
        )
        return Harness(assembler, sink, registry)

    return make


@pytest.fixture
def wait_until() -> Callable[..., bool]:
    """Poll a condition of a background thread's work until it holds or a deadline passes."""

    def wait(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            time.sleep(0.005)
        return condition()

    return wait
