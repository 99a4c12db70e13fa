"""OtlpIngest's admission: a bounded translation backlog, refused for retry beyond it."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

from fluoroscope.receivers import otlp as otlp_module
from fluoroscope.receivers.otlp import (
    REPLAY_BACKLOG_BYTES,
    TRANSLATION_BACKLOG_BYTES,
    Busy,
    OtlpIngest,
    _Take,
)
from fluoroscope.receivers.otlp_translation import PROTOBUF, Translated
from fluoroscope.store.spool import Spool
from fluoroscope.telemetry import Registry

REFUSED = "fluoroscope_otlp_requests_refused"


class HeldTranslator:
    """Translates nothing until released, so that requests stay in the backlog."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def translate(self, body: bytes, encoding: str, indexed: frozenset[str]) -> Translated:
        self.started += 1
        await self.release.wait()
        return Translated([], [], {}, {}, 0)


def refusals(registry: Registry, reason: str) -> int:
    family = registry.counter(REFUSED, "", ("transport", "reason"))
    return family.child("grpc", reason).value


def test_requests_beyond_the_backlog_are_refused_for_retry_and_counted():
    """While 4 MiB of requests are being translated, the next is Busy; once done, all is well."""

    async def run() -> None:
        registry = Registry()
        translator = HeldTranslator()
        with ThreadPoolExecutor(1) as threads:
            ingest = OtlpIngest(lambda *args: True, translator, threads, registry, 1.0, frozenset())  # type: ignore[arg-type]
            half = b"x" * (TRANSLATION_BACKLOG_BYTES // 2)
            first = asyncio.create_task(ingest.export(half, PROTOBUF, "grpc"))
            second = asyncio.create_task(ingest.export(half, PROTOBUF, "grpc"))
            await asyncio.sleep(0.01)
            with pytest.raises(Busy):  # at once: a queued request would time out instead
                await asyncio.wait_for(ingest.export(b"x", PROTOBUF, "grpc"), 1.0)
            translator.release.set()
            outcomes = await asyncio.gather(first, second)
            after = await ingest.export(half, PROTOBUF, "grpc")
        assert translator.started == 3
        assert [outcome.rejected for outcome in [*outcomes, after]] == [0, 0, 0]
        assert refusals(registry, "translation_backlog") == 1

    asyncio.run(run())


def test_one_request_larger_than_the_backlog_still_gets_in():
    """The message size limit bounds a single request; the backlog only stops queueing."""

    async def run() -> None:
        translator = HeldTranslator()
        translator.release.set()
        with ThreadPoolExecutor(1) as threads:
            ingest = OtlpIngest(
                lambda *args: True, translator, threads, Registry(), 1.0, frozenset()
            )
            outcome = await ingest.export(b"x" * (TRANSLATION_BACKLOG_BYTES + 1), PROTOBUF, "grpc")
        assert outcome.rejected == 0

    asyncio.run(run())


class CountingTranslator:
    """Translates every request into one valid segment document, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def translate(self, body: bytes, encoding: str, indexed: frozenset[str]) -> Translated:
        self.calls += 1
        document = orjson.dumps(
            {
                "id": f"{self.calls:016x}",
                "trace_id": "1-6b065e19-de34471773fb7a0c55f48339",
                "name": "svc",
                "start_time": 1.0,
                "end_time": 2.0,
            }
        )
        return Translated([document], [True], {}, {}, 1)


class ClosedPipeline:
    """An ingest callable that refuses every batch until ``room`` is set, then records each."""

    def __init__(self) -> None:
        self.room = asyncio.Event()
        self.handed: list[int] = []

    def __call__(self, source: str, documents: list[object], size: int, ack: object) -> bool:
        if self.room.is_set():
            self.handed.append(len(documents))
        return self.room.is_set()


def spooled_requests(directory: Path, registry: Registry, count: int, size: int) -> Spool:
    """An OTLP spool holding ``count`` gRPC requests of ``size`` bytes."""
    spool = Spool(directory, 1 << 30, registry, "otlp")
    spool.open()
    for _ in range(count):
        assert spool.append([b"g" + b"x" * size])
    return spool


def test_spooled_requests_wait_on_disk_while_the_pipeline_has_no_room(tmp_path):
    """Replay holds at most the replay backlog in memory; the rest stays in the spool."""

    async def run() -> None:
        registry = Registry()
        spool = spooled_requests(tmp_path, registry, 10, REPLAY_BACKLOG_BYTES // 4)
        pipeline = ClosedPipeline()
        translator = CountingTranslator()
        with ThreadPoolExecutor(1) as threads:
            otlp = OtlpIngest(pipeline, translator, threads, registry, 1.0, frozenset(), spool)  # type: ignore[arg-type]
            otlp.start()
            await asyncio.sleep(0.3)
            held, waiting = translator.calls, spool.depth
            pipeline.room.set()
            for _ in range(200):
                if len(pipeline.handed) == 10:
                    break
                await asyncio.sleep(0.02)
            await otlp.stop(1.0)
        assert held <= 4  # translated, waiting for the pipeline: within the replay backlog
        assert waiting >= 10 - 4 - 1  # the rest still on disk (one more read, not yet started)
        assert pipeline.handed == [1] * 10
        assert spool.depth == 0

    asyncio.run(run())


def test_stopping_leaves_the_rest_spooled_and_drops_nothing_taken(tmp_path):
    """At shutdown, requests already taken from the spool reach the pipeline; the rest wait."""

    async def run() -> None:
        registry = Registry()
        # Three to a read of the spool, eight to the replay backlog: the replay holds one
        # request it has read but has no room for when the stop comes.
        spool = spooled_requests(tmp_path, registry, 20, REPLAY_BACKLOG_BYTES // 8)
        pipeline = ClosedPipeline()
        with ThreadPoolExecutor(1) as threads:
            otlp = OtlpIngest(
                pipeline, CountingTranslator(), threads, registry, 1.0, frozenset(), spool
            )  # type: ignore[arg-type]
            otlp.start()
            await asyncio.sleep(0.3)  # the replay backlog is full, and more is in hand
            pipeline.room.set()
            await otlp.stop(2.0)
        assert 8 <= len(pipeline.handed) < 20
        assert len(pipeline.handed) + spool.depth == 20

    asyncio.run(run())


class AckingPipeline:
    """An ingest callable with no room until ``room`` is set; then it stores at once."""

    def __init__(self) -> None:
        self.room = False
        self.offers = 0

    def __call__(self, source: str, documents: list[object], size: int, ack) -> bool:
        self.offers += 1
        if self.room:
            ack([])
        return self.room


def test_a_translated_request_waits_a_moment_for_room_in_the_pipeline():
    """Room that comes within the wait takes the request: no refusal, no second translation."""

    async def run() -> None:
        registry = Registry()
        pipeline = AckingPipeline()
        translator = CountingTranslator()
        with ThreadPoolExecutor(1) as threads:
            ingest = OtlpIngest(pipeline, translator, threads, registry, 1.0, frozenset())  # type: ignore[arg-type]
            export = asyncio.create_task(ingest.export(b"x", PROTOBUF, "grpc"))
            await asyncio.sleep(0.2)
            assert not export.done()
            pipeline.room = True
            outcome = await asyncio.wait_for(export, 5.0)
        assert outcome.rejected == 0
        assert pipeline.offers > 2
        assert translator.calls == 1
        assert refusals(registry, "pipeline_full") == 0

    asyncio.run(run())


def test_a_pipeline_full_for_longer_than_the_wait_is_refused_for_retry(monkeypatch):
    async def run() -> None:
        registry = Registry()
        with ThreadPoolExecutor(1) as threads:
            ingest = OtlpIngest(
                AckingPipeline(), CountingTranslator(), threads, registry, 1.0, frozenset()
            )  # type: ignore[arg-type]
            with pytest.raises(Busy, match="pipeline is full"):
                await ingest.export(b"x", PROTOBUF, "grpc")
        assert refusals(registry, "pipeline_full") == 1

    monkeypatch.setattr(otlp_module, "ROOM_WAIT_S", 0.1)
    asyncio.run(run())


def test_requests_arriving_while_one_waits_for_room_are_spooled(tmp_path):
    """The waiting request holds its place in the backlog, so the spool takes the next ones."""

    async def run() -> None:
        registry = Registry()
        spool = Spool(tmp_path, 1 << 30, registry, "otlp")
        spool.open()
        pipeline = AckingPipeline()
        with ThreadPoolExecutor(1) as threads:
            ingest = OtlpIngest(
                pipeline, CountingTranslator(), threads, registry, 1.0, frozenset(), spool
            )  # type: ignore[arg-type]
            body = ExportTraceServiceRequest(resource_spans=[ResourceSpans()]).SerializeToString()
            waiting = asyncio.create_task(
                ingest.export(b"x" * TRANSLATION_BACKLOG_BYTES, PROTOBUF, "grpc")
            )
            await asyncio.sleep(0.1)
            outcome = await ingest.export(body, PROTOBUF, "grpc")
            depth = spool.depth
            pipeline.room = True
            await asyncio.wait_for(waiting, 5.0)
        spool.close()
        assert outcome.rejected == 0
        assert depth == 1

    asyncio.run(run())


class _ReleasingSpool:
    """Records what a spool is told it may delete."""

    def __init__(self) -> None:
        self.released: list[int] = []

    def release(self, mark: int) -> None:
        self.released.append(mark)


def test_spool_files_go_only_once_every_earlier_take_is_stored():
    """Requests replayed from the spool are stored out of order; a file is deleted only when
    what every take up to it held is stored, or else a crash would lose what was not."""
    registry = Registry()
    with ThreadPoolExecutor(1) as threads:
        ingest = OtlpIngest(
            lambda *args: True, HeldTranslator(), threads, registry, 1.0, frozenset()
        )  # type: ignore[arg-type]
    spool = _ReleasingSpool()
    first, second = _Take(mark=1, unstored=2), _Take(mark=3, unstored=1)
    ingest._takes.extend([first, second])

    ingest._stored(spool, second)  # type: ignore[arg-type]
    ingest._stored(spool, first)  # type: ignore[arg-type]
    assert spool.released == []  # one request of the first take is not stored yet
    ingest._stored(spool, first)  # type: ignore[arg-type]

    assert spool.released == [1, 3]
    assert not ingest._takes
