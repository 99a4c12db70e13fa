"""The aiohttp application on TCP 2000 and its routing.

X-Ray operations are POSTs to fixed paths (botocore's model); routing uses the last path
segment so that an ``endpoint_url`` with a path prefix works too. Any signature is accepted,
and none is needed: stock SDK samplers send unsigned requests.
"""

import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from fluoroscope.api import protocol
from fluoroscope.api.graphs import GraphOperations, compile_selector
from fluoroscope.api.groups import GroupCatalog, GroupOperations
from fluoroscope.api.sampling import SamplingOperations
from fluoroscope.api.traces import IngestDocuments, TraceOperations
from fluoroscope.config import Address
from fluoroscope.errors import ApiError
from fluoroscope.http_listener import serve_http
from fluoroscope.store.reader import TraceReader
from fluoroscope.telemetry import CONTENT_TYPE_LATEST, Registry

log = logging.getLogger(__name__)

__all__ = ["ApiServer", "IngestDocuments"]

# The daemon sends up to 50 documents of up to 64 KiB in one PutTraceSegments call.
MAX_REQUEST_BYTES = 16 << 20
QUERY_THREADS = 4

Operation = Callable[[dict[str, Any]], Awaitable[object]]
Health = Callable[[], str | None]


class ApiServer:
    """Serves the X-Ray API, ``/healthz`` and ``/metrics`` until stopped."""

    def __init__(
        self,
        address: Address,
        reader: TraceReader,
        ingest: IngestDocuments,
        registry: Registry,
        health: Health,
        ack_timeout_s: float,
        groups: GroupCatalog,
        sampling: SamplingOperations,
    ) -> None:
        self._address = address
        self._registry = registry
        self._health = health
        self._executor = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="fluoroscope-query")
        traces = TraceOperations(reader, ingest, self._executor, registry, ack_timeout_s, groups)
        graphs = GraphOperations(reader, self._executor, groups.resolve, compile_selector)
        group_operations = GroupOperations(groups, self._executor)
        # Path (last segment) -> operation, exactly botocore's requestUri for each.
        self._operations: dict[str, Operation] = {
            "TraceSegments": traces.put_trace_segments,
            "Traces": traces.batch_get_traces,
            "TraceSummaries": traces.get_trace_summaries,
            "TelemetryRecords": traces.put_telemetry_records,
            "ServiceGraph": graphs.get_service_graph,
            "TraceGraph": graphs.get_trace_graph,
            "TimeSeriesServiceStatistics": graphs.get_time_series_service_statistics,
            "CreateGroup": group_operations.create_group,
            "GetGroup": group_operations.get_group,
            "Groups": group_operations.get_groups,
            "UpdateGroup": group_operations.update_group,
            "DeleteGroup": group_operations.delete_group,
            "GetSamplingRules": sampling.get_sampling_rules,
            "SamplingTargets": sampling.get_sampling_targets,
            "CreateSamplingRule": sampling.create_sampling_rule,
            "UpdateSamplingRule": sampling.update_sampling_rule,
            "DeleteSamplingRule": sampling.delete_sampling_rule,
            "SamplingStatisticSummaries": sampling.get_sampling_statistic_summaries,
        }
        self._requests = registry.counter(
            "fluoroscope_api_requests", "X-Ray API requests by operation path and outcome",
            ("operation", "outcome"),
        )  # fmt: skip
        self._runner: web.AppRunner | None = None
        self.bound: Address | None = None

    def application(self) -> web.Application:
        """The aiohttp application (also used directly by tests)."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/{path:.*}", self._dispatch)
        return app

    async def start(self) -> Address:
        """Listen; return the bound address (port 0 picks a free one)."""
        runner, self.bound = await serve_http(self.application(), self._address)
        self._runner = runner
        return self.bound

    async def stop(self) -> None:
        """Stop accepting requests, finish those in flight, and release the query threads."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"].rstrip("/").rsplit("/", 1)[-1]
        operation = self._operations.get(name)
        if operation is None:
            self._requests.child("unknown", "error").inc()
            return protocol.error_response(
                ApiError(
                    f"unknown or unsupported operation path /{name}", "UnknownOperationException"
                )
            )
        try:
            body = await protocol.read_body(request)
            result = await operation(body)
        except ApiError as exc:
            self._requests.child(name, exc.code).inc()
            return protocol.error_response(exc)
        except Exception:
            log.exception("unexpected error in %s", name)
            self._requests.child(name, "InternalFailure").inc()
            return protocol.error_response(_InternalFailure())
        self._requests.child(name, "ok").inc()
        return protocol.json_response(result)

    async def _healthz(self, request: web.Request) -> web.Response:
        problem = self._health()
        if problem is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unhealthy", "reason": problem}, status=503)

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._registry.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


class _InternalFailure(ApiError):
    status = 500

    def __init__(self) -> None:
        super().__init__("an internal error occurred; it has been logged", "InternalFailure")
