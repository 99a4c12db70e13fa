"""What both OTLP receivers share: translate an export request, validate its documents, hand
them to the pipeline, and wait until they are stored.

Translation runs off the event loop, on helper processes (``otlp_translation``); the documents
it returns are validated on a thread of the collector. The answer follows the OTLP
specification: spans that cannot become valid documents are counted in ``partial_success``
with a message naming the reasons; a pipeline that stays full for a second after translation
is a retryable refusal, so that senders back off and resend instead of losing data; nothing is
acknowledged before it is durable.

When translation is behind, a protobuf request is checked (it must decode) and written whole to
a disk spool, and acknowledged then: it is durable there, and it is translated and stored as
soon as translation has room, oldest first. Spans such a request has refused are counted in the
metrics only, since its answer has gone. OTLP/JSON requests are never spooled (checking one
costs nearly as much as translating it): a sender of JSON is asked to retry instead.
"""

import asyncio
import logging
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from fluoroscope.errors import DocumentError
from fluoroscope.model.segment import Document
from fluoroscope.receivers.otlp_translation import (
    PROTOBUF,
    MalformedRequest,
    Translated,
    Translator,
    TranslatorUnavailable,
    decode,
)
from fluoroscope.store.spool import Spool
from fluoroscope.telemetry import Registry
from fluoroscope.translate.xray_json import parse_document

# (documents, total bytes, callback once stored) -> False when the pipeline is full. The
# callback gets the refusals the pipeline made after accepting: (id, code, message).
Refusals = list[tuple[str, str, str]]
Ingest = Callable[[str, list[Document], int, Callable[[Refusals], None]], bool]


# Request bytes being decoded, translated or validated at once. Past it, requests are refused
# for the sender to retry rather than queued: under overload a queue only grows until senders'
# deadlines expire, and the work done for calls already given up on is wasted. 4 MiB is about
# 17,000 spans, half a second of translation for one helper process.
TRANSLATION_BACKLOG_BYTES = 4 << 20
# Spooled requests are replayed while the backlog is under this, leaving room for new ones.
REPLAY_BACKLOG_BYTES = TRANSLATION_BACKLOG_BYTES // 2
# How often the replay, or a translated request, looks again for room in the pipeline.
REPLAY_POLL_S = 0.02
# How long a translated request waits for room in the pipeline before it is refused for retry.
ROOM_WAIT_S = 1.0
# A spooled request starts with the transport it came by.
_TRANSPORT_TAGS = {"grpc": b"g", "http": b"h"}
_TAG_TRANSPORTS = {tag: transport for transport, tag in _TRANSPORT_TAGS.items()}

log = logging.getLogger(__name__)


class Busy(Exception):
    """The pipeline cannot take the request now; the sender should retry later."""


@dataclass(slots=True)
class Outcome:
    """How many spans were refused, and why."""

    rejected: int
    message: str


class OtlpIngest:
    """Turns export requests into stored documents."""

    def __init__(
        self,
        ingest: Ingest,
        translator: Translator,
        executor: Executor,
        registry: Registry,
        ack_timeout_s: float,
        indexed_attributes: frozenset[str],
        spool: Spool | None = None,
    ) -> None:
        self._ingest = ingest
        self._spool = spool
        self._replay: asyncio.Task[None] | None = None
        self._stopping = False
        self._replaying: set[asyncio.Task[None]] = set()
        # Takes from the spool, oldest first: its files are released once every take before
        # theirs is stored.
        self._takes: deque[_Take] = deque()
        self._translator = translator
        self._backlog = 0  # request bytes between arrival and the pipeline (event loop only)
        self._executor = executor
        self._ack_timeout = ack_timeout_s
        self._indexed = indexed_attributes
        self._spans = registry.counter(
            "fluoroscope_otlp_spans_received", "Spans received over OTLP, by transport",
            ("transport",),
        )  # fmt: skip
        self._rejected = registry.counter(
            "fluoroscope_otlp_spans_rejected",
            "Spans refused over OTLP (reported in partial_success), by transport and reason",
            ("transport", "reason"),
        )
        self._busy = registry.counter(
            "fluoroscope_otlp_requests_refused",
            "OTLP requests refused for the sender to retry, by transport and reason",
            ("transport", "reason"),
        )
        self._spooled_requests = registry.counter(
            "fluoroscope_otlp_requests_spooled",
            "OTLP requests acknowledged once written to the disk spool, translated later",
            ("transport",),
        )

    def start(self) -> None:
        """Start replaying spooled requests (from the event loop)."""
        if self._spool is not None:
            self._replay = asyncio.create_task(self._replay_spooled(self._spool))

    async def stop(self, timeout: float) -> None:
        """Stop taking from the spool; let requests taken from it reach the pipeline.

        What is still spooled stays there for the next start; what was taken is never dropped
        half-way, so the replay is asked to stop rather than cancelled.
        """
        self._stopping = True
        if self._replay is not None:
            await asyncio.wait([self._replay], timeout=timeout)
        if self._replaying:
            await asyncio.wait(self._replaying, timeout=timeout)

    def refused(self, transport: str, reason: str) -> None:
        """Count a whole request refused before translation (malformed, too large, ...)."""
        self._busy.child(transport, reason).inc()

    async def export(self, body: bytes, encoding: str, transport: str) -> Outcome:
        """Store what the request in ``body`` holds.

        Raises MalformedRequest when it cannot be decoded, Busy when the collector cannot take
        it now (translation backlog, pipeline full, storing too slow).
        """
        # One request always gets in, however large: the message size limit bounds it.
        if self._backlog and self._backlog + len(body) > TRANSLATION_BACKLOG_BYTES:
            if await self._spool_request(body, encoding, transport):
                return Outcome(0, "")
            self._busy.child(transport, "translation_backlog").inc()
            raise Busy("the collector is behind translating requests")
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[Refusals] = loop.create_future()

        def acknowledge(refusals: Refusals) -> None:
            loop.call_soon_threadsafe(_resolve, stored, refusals)

        # Counted in the backlog until handed to the pipeline, so that requests arriving while
        # this one waits for room go to the spool instead of queueing behind it.
        self._backlog += len(body)
        try:
            documents, size, reasons = await self._translate(body, encoding, transport)
            if documents and not await self._hand_over(transport, documents, size, acknowledge):
                self._busy.child(transport, "pipeline_full").inc()
                raise Busy("the collector's pipeline is full")
        except TranslatorUnavailable as exc:
            self._busy.child(transport, "translator_restarted").inc()
            raise Busy(str(exc)) from None
        finally:
            self._backlog -= len(body)
        if documents:
            try:
                late = await asyncio.wait_for(asyncio.shield(stored), self._ack_timeout)
            except TimeoutError:
                self._busy.child(transport, "store_slow").inc()
                raise Busy("the spans were not stored in time") from None
            for _, code, _ in late:
                reasons[code] += 1
                self._rejected.child(transport, code).inc()
        rejected = sum(reasons.values())
        message = "; ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        return Outcome(rejected, message)

    async def _hand_over(
        self,
        transport: str,
        documents: list[Document],
        size: int,
        acknowledge: Callable[[Refusals], None],
    ) -> bool:
        """Offer a request's documents to the pipeline, waiting up to ROOM_WAIT_S for room:
        translating them again after the sender retries would cost more than the wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ROOM_WAIT_S
        source = f"otlp_{transport}"
        while not self._ingest(source, documents, size, acknowledge):
            if self._stopping or loop.time() >= deadline:
                return False
            await asyncio.sleep(REPLAY_POLL_S)
        return True

    async def _translate(
        self, body: bytes, encoding: str, transport: str
    ) -> tuple[list[Document], int, Tally[str]]:
        """Translate and validate a request; count its spans and those refused."""
        translated = await self._translator.translate(body, encoding, self._indexed)
        loop = asyncio.get_running_loop()
        documents, size, reasons, codes = await loop.run_in_executor(
            self._executor, _validate, translated
        )
        self._spans.child(transport).inc(translated.total)
        for code, count in codes.items():
            self._rejected.child(transport, code).inc(count)
        return documents, size, reasons

    async def _spool_request(self, body: bytes, encoding: str, transport: str) -> bool:
        """Spool a protobuf request that decodes; False if there is no spool or no room."""
        spool = self._spool
        if spool is None or encoding != PROTOBUF:
            return False
        loop = asyncio.get_running_loop()
        # Raises MalformedRequest: refused now, as it would be after translation.
        tag = _TRANSPORT_TAGS[transport]
        if not await loop.run_in_executor(self._executor, _check_and_spool, spool, tag, body):
            return False
        self._spooled_requests.child(transport).inc()
        return True

    async def _replay_spooled(self, spool: Spool) -> None:
        """Translate and store spooled requests, oldest first, while translation has room."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if spool.depth == 0 or self._backlog >= REPLAY_BACKLOG_BYTES:
                await asyncio.sleep(REPLAY_POLL_S)
                continue
            batches = await loop.run_in_executor(self._executor, spool.take, 0)
            items = [item for batch in batches for item in batch]
            take = _Take(spool.mark(), len(items))
            self._takes.append(take)
            self._stored(spool, take, 0)  # a take of nothing releases at once
            for item in items:
                while self._backlog >= REPLAY_BACKLOG_BYTES:
                    await asyncio.sleep(REPLAY_POLL_S)
                # Counted from here, so the backlog check above sees it at once.
                self._backlog += len(item) - 1
                task = asyncio.create_task(self._store_spooled(item, spool, take))
                self._replaying.add(task)
                task.add_done_callback(self._replaying.discard)

    def _stored(self, spool: Spool, take: "_Take", count: int = 1) -> None:
        """``count`` requests of ``take`` are stored (or dropped): release the spool files of
        every take whose requests, and those of every take before it, all are."""
        take.unstored -= count
        takes = self._takes
        while takes and takes[0].unstored <= 0:
            spool.release(takes.popleft().mark)

    async def _store_spooled(self, item: bytes, spool: Spool, take: "_Take") -> None:
        """Translate one spooled request and hand its documents over, waiting for room.

        The request counts in the backlog until its documents are in the pipeline's feed, so
        that no more are taken from the spool while translated ones wait for room there. Its
        take is told once the documents are stored, or once there is nothing to store.
        """
        transport = _TAG_TRANSPORTS.get(item[:1], "grpc")
        body = item[1:]
        loop = asyncio.get_running_loop()
        handed_over = False
        try:
            while True:
                try:
                    documents, size, _ = await self._translate(body, PROTOBUF, transport)
                    break
                except TranslatorUnavailable:
                    await asyncio.sleep(REPLAY_POLL_S)
            if not documents:
                return

            def count_late(refusals: Refusals) -> None:  # on the writer's thread, once stored
                for _, code, _ in refusals:
                    self._rejected.child(transport, code).inc()
                loop.call_soon_threadsafe(self._stored, spool, take)

            source = f"otlp_{transport}"
            while not self._ingest(source, documents, size, count_late):
                await asyncio.sleep(REPLAY_POLL_S)
            handed_over = True
        except MalformedRequest as exc:  # it decoded when it was spooled
            log.warning("dropping a spooled OTLP request: %s", exc)
            self._rejected.child(transport, "malformed").inc()
        except Exception:  # a bug: nothing else waits on this task to say so
            log.exception("dropping a spooled OTLP request that could not be stored")
            self._rejected.child(transport, "InternalError").inc()
        finally:
            self._backlog -= len(body)
            if not handed_over:  # nothing of it will be stored: its take need not wait
                self._stored(spool, take)


@dataclass(slots=True)
class _Take:
    """One take of requests from the spool."""

    mark: int  # the spool's mark after it (Spool.release)
    unstored: int  # its requests not yet stored (or dropped)


def _check_and_spool(spool: Spool, tag: bytes, body: bytes) -> bool:
    """Spool a protobuf request behind its transport's tag if it decodes (MalformedRequest if
    not); False if the spool has no room."""
    decode(body, PROTOBUF)
    # Written before the sender is told OK: what is acknowledged must survive a crash.
    return spool.append([tag + body], written=True)


def _validate(translated: Translated) -> tuple[list[Document], int, Tally[str], Tally[str]]:
    """The translated documents parsed as the pipeline takes them, their size, and refusals
    by message (for the sender) and by code (for the metrics, whose labels must stay few)."""
    reasons: Tally[str] = Tally(translated.reasons)
    codes: Tally[str] = Tally(translated.codes)
    documents: list[Document] = []
    size = 0
    for raw, sampled in zip(translated.documents, translated.sampled, strict=True):
        try:
            parsed = parse_document(raw)
        except DocumentError as exc:  # the translator's output should always be valid
            reasons[str(exc)] += 1
            codes[exc.code] += 1
            continue
        for document in parsed:
            document.sampled = sampled
        documents.extend(parsed)
        size += len(raw)
    return documents, size, reasons, codes


def _resolve(future: "asyncio.Future[Refusals]", refusals: Refusals) -> None:
    if not future.done():
        future.set_result(refusals)
