"""OtlpIngest's admission: a bounded translation backlog, refused for retry beyond it."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from fluoroscope.receivers.otlp import TRANSLATION_BACKLOG_BYTES, Busy, OtlpIngest
from fluoroscope.receivers.otlp_translation import PROTOBUF, Translated
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
        return Translated([], [], {}, 0)


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
