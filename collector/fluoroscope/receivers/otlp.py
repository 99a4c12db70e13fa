"""What both OTLP receivers share: translate an export request, validate its documents, hand
them to the pipeline, and wait until they are stored.

Translation runs off the event loop, on helper processes (``otlp_translation``); the documents
it returns are validated on a thread of the collector. The answer follows the OTLP
specification: spans that cannot become valid documents are counted in ``partial_success``
with a message naming the reasons; a full pipeline is a retryable refusal, so that senders
back off and resend instead of losing data; nothing is acknowledged before it is durable.
"""

import asyncio
from collections import Counter as Tally
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from fluoroscope.errors import DocumentError
from fluoroscope.model.segment import Document
from fluoroscope.receivers.otlp_translation import Translated, Translator, TranslatorUnavailable
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
    ) -> None:
        self._ingest = ingest
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
            self._busy.child(transport, "translation_backlog").inc()
            raise Busy("the collector is behind translating requests")
        self._backlog += len(body)
        loop = asyncio.get_running_loop()
        try:
            translated = await self._translator.translate(body, encoding, self._indexed)
            documents, size, reasons = await loop.run_in_executor(
                self._executor, _validate, translated
            )
        except TranslatorUnavailable as exc:
            self._busy.child(transport, "translator_restarted").inc()
            raise Busy(str(exc)) from None
        finally:
            self._backlog -= len(body)
        self._spans.child(transport).inc(translated.total)
        for reason, count in reasons.items():
            self._rejected.child(transport, reason).inc(count)
        if documents:
            stored: asyncio.Future[Refusals] = loop.create_future()

            def acknowledge(refusals: Refusals) -> None:
                loop.call_soon_threadsafe(_resolve, stored, refusals)

            if not self._ingest(f"otlp_{transport}", documents, size, acknowledge):
                self._busy.child(transport, "pipeline_full").inc()
                raise Busy("the collector's pipeline is full")
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


def _validate(translated: Translated) -> tuple[list[Document], int, Tally[str]]:
    """The translated documents parsed as the pipeline takes them, their size, and refusals."""
    reasons: Tally[str] = Tally(translated.reasons)
    documents: list[Document] = []
    size = 0
    for raw, sampled in zip(translated.documents, translated.sampled, strict=True):
        try:
            parsed = parse_document(raw)
        except DocumentError as exc:  # the translator's output should always be valid
            reasons[exc.code] += 1
            continue
        for document in parsed:
            document.sampled = sampled
        documents.extend(parsed)
        size += len(raw)
    return documents, size, reasons


def _resolve(future: "asyncio.Future[Refusals]", refusals: Refusals) -> None:
    if not future.done():
        future.set_result(refusals)
