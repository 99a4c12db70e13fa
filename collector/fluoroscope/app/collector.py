"""A whole collector: store, pipeline, receivers and API, started and stopped in order.

Start downstream first (store, pipeline), receivers and the API last; stop receivers first,
then let the pipeline drain what was accepted into the store, then close the store.
"""

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fluoroscope import __version__
from fluoroscope.api.groups import GroupCatalog
from fluoroscope.api.sampling import SamplingOperations, load_rules
from fluoroscope.api.server import ApiServer
from fluoroscope.api.traces import Refusals
from fluoroscope.app.feed import DocumentBatch, Feed, RawBatch
from fluoroscope.app.pipeline import Pipeline
from fluoroscope.app.store_metrics import register_store_metrics
from fluoroscope.assembly.assembler import Assembler
from fluoroscope.assembly.gate import SamplingGate
from fluoroscope.assembly.head_sampling import HeadMode, HeadSampler
from fluoroscope.assembly.in_flight import AssemblyLimits
from fluoroscope.assembly.tail_sampling import TailRuleError, TailSampler, parse_rules
from fluoroscope.config import Address, Config
from fluoroscope.errors import ConfigError
from fluoroscope.model.segment import Document
from fluoroscope.receivers.otlp import OtlpIngest
from fluoroscope.receivers.otlp_http import OtlpHttpReceiver
from fluoroscope.receivers.otlp_translation import Translator
from fluoroscope.receivers.xray_udp import UdpReceiver
from fluoroscope.runtime import build
from fluoroscope.sampling import Quotas, RuleBook, Sampler
from fluoroscope.store.groups import GroupTable
from fluoroscope.store.sampling_rules import RuleTable
from fluoroscope.store.spool import Spool
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry

if TYPE_CHECKING:  # gRPC's runtime (about 20 MiB) is loaded only where it is configured
    from fluoroscope.exporters.otlp import OtlpExporter
    from fluoroscope.receivers.otlp_grpc import OtlpGrpcReceiver

log = logging.getLogger(__name__)

# How long shutdown may spend writing out what was accepted before the process exits.
DRAIN_TIMEOUT_S = 30.0
# How often the collector's own sampler reports and takes its reservoir quotas, as an SDK does.
SAMPLING_TARGETS_INTERVAL_S = 10.0
# GetSamplingTargets takes at most this many statistics documents per call.
STATISTICS_PER_CALL = 25


class Collector:
    """Fluoroscope's running parts, wired together from one :class:`Config`."""

    def __init__(self, config: Config, now: Callable[[], float] = time.time) -> None:
        self.config = config
        self.registry = Registry()
        self.store = Store(
            config.data_dir,
            config.retention_days * 86_400,
            now,
            sync=config.store_sync == "normal",
            max_bytes=config.store_max_bytes or None,
            keep_recent_s=_in_flight_s(config),
        )
        self.spool = self._spool("udp")
        otlp_on = config.otlp_grpc is not None or config.otlp_http is not None
        self._otlp_spool = self._spool("otlp") if otlp_on else None
        self._otlp_ingest: OtlpIngest | None = None
        self.feed = Feed(
            config.queue_max_documents,
            config.queue_max_bytes,
            ("udp", self.spool) if self.spool is not None else None,
        )
        self._now = now
        self._pipeline: Pipeline | None = None
        self._assembler: Assembler | None = None
        self._udp: UdpReceiver | None = None
        self._api: ApiServer | None = None
        self._exporter: OtlpExporter | None = None
        self._otlp_grpc: OtlpGrpcReceiver | None = None
        self._otlp_http: OtlpHttpReceiver | None = None
        # Validating translated OTLP documents (and translating, without helper processes) is
        # CPU work; it runs here, off the event loop.
        self._translation = ThreadPoolExecutor(2, thread_name_prefix="fluoroscope-otlp")
        self._translator = Translator(config.otlp_translation_processes, self._translation)
        self._stopped = False
        # Saves of groups and sampling rules: rare, small, and never behind trace queries.
        self._control = ThreadPoolExecutor(1, thread_name_prefix="fluoroscope-control")
        try:
            self._tail_rules = parse_rules(config.tail_sampling_rules)
        except TailRuleError as exc:
            raise ConfigError(f"invalid sampling.tail.rules: {exc}") from None
        self._sampler: Sampler | None = None
        self._sampling_task: asyncio.Task[None] | None = None

    async def start(self) -> list[str]:
        """Open the store and start every component; return the ready lines to print."""
        config = self.config
        self.store.open()
        left = sum(spool.open() for spool in self._spools)
        limits = AssemblyLimits(
            max_traces=config.assembly_max_traces,
            max_bytes=config.assembly_max_bytes,
            idle_timeout_s=config.assembly_idle_timeout_s,
            complete_linger_s=config.assembly_complete_linger_s,
            max_trace_bytes=config.max_trace_bytes,
        )
        self.groups = GroupCatalog(GroupTable(self.store.path), self._now)
        self._rules = RuleTable(self.store.path)
        self.groups.load()
        book = load_rules(self._rules, self._now)
        quotas = Quotas(self._now)
        self.registry.counter_reader(
            "fluoroscope_sampling_clients_evicted",
            "SDK clients dropped from a rule's reservoir share because it had the most it may",
            lambda: quotas.evicted_clients,
        )
        self._assembler = Assembler(
            self.store,
            self.registry,
            limits,
            self._now,
            self.groups,
            self._gate(book),
            config.summary_processes,
        )
        if config.export_otlp is not None:
            from fluoroscope.exporters.otlp import Destination, OtlpExporter  # noqa: PLC0415

            self._exporter = OtlpExporter(Destination.parse(config.export_otlp), self.registry)
            self._exporter.start()
        self._pipeline = Pipeline(
            self.feed,
            self._assembler,
            self.registry,
            flush_interval_s=config.flush_interval_ms / 1000,
            now=self._now,
            export=self._exporter.offer if self._exporter is not None else None,
        )
        self._register_gauges()
        self._pipeline.start()
        try:
            self._api = ApiServer(
                config.http,
                self.store.reader,
                self._ingest_documents,
                self.registry,
                self._health,
                config.ack_timeout_s,
                self.groups,
                SamplingOperations(book, quotas, self._rules, self._control, self._rules_changed),
            )
            with _naming("the X-Ray API", "--http", config.http):
                http = await self._api.start()
            self._udp = UdpReceiver(
                config.udp, self._ingest_raw, self.registry, config.udp_receive_buffer_bytes
            )
            with _naming("the X-Ray daemon protocol", "--udp", config.udp, "udp"):
                udp = self._udp.start()
            otlp_lines = await self._start_otlp()
        except OSError:
            await self.stop()
            raise
        if self._sampler is not None:
            self._sampling_task = asyncio.create_task(self._take_quotas(book, quotas))
        prefix = f"fluoroscope {__version__}:"
        return [
            f"{prefix} X-Ray daemon protocol on udp://{udp} "
            f"(receive buffer {self._udp.receive_buffer_bytes >> 10} KiB, "
            + (
                f"disk spool up to {config.spool_max_bytes >> 20} MiB)"
                if self.spool is not None
                else "no disk spool)"
            ),
            f"{prefix} X-Ray API on http://{http} (/healthz, /metrics)",
            *(f"{prefix} {line}" for line in otlp_lines),
            f"{prefix} store at {self.store.path}",
            *(
                [f"{prefix} {left:,} items spooled by an earlier run are read first"]
                if left
                else []
            ),
            *(
                [f"{prefix} forwarding as {self._exporter.transport} to {config.export_otlp}"]
                if self._exporter is not None
                else []
            ),
            f"{prefix} {build()}",
            f"{prefix} ready",
        ]

    @property
    def _spools(self) -> list[Spool]:
        return [spool for spool in (self.spool, self._otlp_spool) if spool is not None]

    def _spool(self, name: str) -> Spool | None:
        """The disk spool of one kind of input, if spools are on."""
        size = self.config.spool_max_bytes
        if not size:
            return None
        return Spool(self.config.data_dir / "spool" / name, size, self.registry, name)

    def _gate(self, book: RuleBook) -> SamplingGate | None:
        """The sampling the configuration asks for, if any."""
        config = self.config
        head = None
        if config.head_sampling != HeadMode.OFF.value:
            self._sampler = Sampler(book.ruleset(), self._now, random.random)
            head = HeadSampler(self._sampler, HeadMode(config.head_sampling))
        tail = TailSampler(self._tail_rules) if self._tail_rules else None
        if head is None and tail is None:
            return None
        return SamplingGate(
            self.registry,
            head=head,
            tail=tail,
            wait_s=config.sampling_decision_wait_s,
            memory=config.sampling_decision_memory,
        )

    def _rules_changed(self, book: RuleBook) -> None:
        if self._sampler is not None:
            self._sampler.update_rules(book.ruleset())

    async def _take_quotas(self, book: RuleBook, quotas: Quotas) -> None:
        """Report the collector's own sampling and take its share of each rule's reservoir."""
        sampler = self._sampler
        assert sampler is not None
        client_id = secrets.token_hex(12)
        while True:
            await asyncio.sleep(SAMPLING_TARGETS_INTERVAL_S)
            documents = sampler.statistics_documents(client_id)
            for start in range(0, len(documents), STATISTICS_PER_CALL):
                reply = quotas.get_targets(
                    documents[start : start + STATISTICS_PER_CALL],
                    book.rules(),
                    book.last_modification,
                )
                sampler.load_targets(reply.targets)

    async def _start_otlp(self) -> list[str]:
        config = self.config
        if config.otlp_grpc is None and config.otlp_http is None:
            return []
        ingest = OtlpIngest(
            self._ingest_from,
            self._translator,
            self._translation,
            self.registry,
            config.ack_timeout_s,
            config.otlp_indexed_attributes,
            self._otlp_spool,
        )
        self._otlp_ingest = ingest
        ingest.start()
        lines = []
        if config.otlp_grpc is not None:
            from fluoroscope.receivers.otlp_grpc import OtlpGrpcReceiver  # noqa: PLC0415

            self._otlp_grpc = OtlpGrpcReceiver(
                config.otlp_grpc, ingest, config.otlp_max_message_bytes, config.otlp_bearer_token
            )
            with _naming("OTLP/gRPC", "--otlp-grpc", config.otlp_grpc):
                lines.append(f"OTLP/gRPC on {await self._otlp_grpc.start()}")
        if config.otlp_http is not None:
            self._otlp_http = OtlpHttpReceiver(
                config.otlp_http, ingest, config.otlp_max_message_bytes, config.otlp_bearer_token
            )
            with _naming("OTLP/HTTP", "--otlp-http", config.otlp_http):
                address = await self._otlp_http.start()
            lines.append(f"OTLP/HTTP on http://{address}/v1/traces")
        return lines

    async def stop(self) -> None:
        """Stop receivers, drain the pipeline into the store, close the store; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        # Working through a spooled backlog could take minutes: it waits for the next start.
        self.feed.leave_spooled()
        if self._sampling_task is not None:
            self._sampling_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampling_task
        if self._udp is not None:
            self._udp.stop()
        for receiver in (self._otlp_grpc, self._otlp_http):
            if receiver is not None:
                await receiver.stop()
        if self._otlp_ingest is not None:
            await self._otlp_ingest.stop(DRAIN_TIMEOUT_S)
        self.feed.close()
        self._translator.shutdown()
        self._translation.shutdown(wait=True)
        if self._api is not None:
            await self._api.stop()
        if self._pipeline is not None:
            self._pipeline.stop(DRAIN_TIMEOUT_S)
        if self._assembler is not None:
            self._assembler.summaries.shutdown()
        if self._pipeline is not None:
            self.groups.close()
            self._rules.close()
        self._control.shutdown(wait=True)
        self.store.close(DRAIN_TIMEOUT_S)
        # After the store: spool files read whole are deleted only once what they held is
        # committed. What is still spooled is read at the next start.
        for spool in self._spools:
            spool.close()
        if self._exporter is not None:
            self._exporter.stop(DRAIN_TIMEOUT_S)

    def _ingest_raw(self, documents: list[bytes], size: int) -> bool:
        return self.feed.offer(RawBatch("udp", documents, size), len(documents))

    def _ingest_documents(
        self, documents: list[Document], size: int, ack: Callable[[Refusals], None]
    ) -> bool:
        return self._ingest_from("api", documents, size, ack)

    def _ingest_from(
        self, source: str, documents: list[Document], size: int, ack: Callable[[Refusals], None]
    ) -> bool:
        return self.feed.offer(DocumentBatch(source, documents, size, ack), len(documents))

    def _health(self) -> str | None:
        pipeline = self._pipeline
        if pipeline is None or not pipeline.alive:
            return "the pipeline is not running"
        writer = self.store.writer
        if not writer.alive:
            return "the store writer is not running"
        if not writer.healthy:
            return f"the store is failing: {writer.last_error}"
        if not self.store.checkpointer.alive:
            return "the store's checkpoint thread is not running"
        if not self.store.file_in_place:
            return f"the database file {self.store.path} was removed or replaced; restart"
        return None

    def _register_gauges(self) -> None:
        registry = self.registry
        feed = self.feed
        assembler = self._assembler
        assert assembler is not None
        registry.gauge(
            "fluoroscope_queue_documents", "Documents waiting for the pipeline", lambda: feed.depth
        )
        registry.gauge(
            "fluoroscope_queue_bytes", "Bytes waiting for the pipeline", lambda: feed.depth_bytes
        )
        spools = self._spools
        registry.gauge(
            "fluoroscope_spool_items",
            "UDP documents or OTLP requests waiting in a disk spool",
            lambda: [((spool.name,), float(spool.depth)) for spool in spools],
            ("spool",),
        )
        registry.gauge(
            "fluoroscope_spool_bytes",
            "Bytes waiting in a disk spool",
            lambda: [((spool.name,), float(spool.depth_bytes)) for spool in spools],
            ("spool",),
        )
        registry.gauge(
            "fluoroscope_assembly_traces_in_flight",
            "Traces held in memory by the assembler",
            lambda: assembler.in_flight,
        )
        register_store_metrics(registry, self.store)
        registry.gauge(
            "fluoroscope_assembly_bytes",
            "Document bytes held in memory by the assembler",
            lambda: assembler.held_bytes,
        )
        registry.gauge(
            "fluoroscope_assembly_unwritten_bytes",
            "Bytes of accepted documents not yet handed to the store (a flush is forced past "
            "a bound)",
            lambda: assembler.pending_bytes,
        )
        registry.gauge(
            "fluoroscope_assembly_batches_waiting",
            "Flushes waiting for a summary helper's answer before they are written",
            lambda: assembler.waiting,
        )


def _in_flight_s(config: Config) -> float:
    """How long after its last write a trace may still be held by the assembler: retention
    leaves it alone until then."""
    held = max(config.assembly_idle_timeout_s, config.assembly_complete_linger_s)
    return held + config.flush_interval_ms / 1000 + 1.0


@contextlib.contextmanager
def _naming(what: str, flag: str, address: Address, transport: str = "tcp") -> Iterator[None]:
    """Say which listener could not listen: with the defaults, UDP and HTTP share port 2000."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"{what} on {transport} {address} ({flag}): {reason}") from exc
