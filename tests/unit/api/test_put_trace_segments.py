"""PutTraceSegments when the pipeline cannot take the documents: a retryable refusal, counted."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from fluoroscope.api.groups import GroupCatalog
from fluoroscope.api.traces import TraceOperations
from fluoroscope.errors import ThrottledError
from fluoroscope.store.groups import GroupTable
from fluoroscope.store.store import Store
from fluoroscope.telemetry import Registry

DOCUMENT = orjson.dumps(
    {"name": "svc", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
     "start_time": 1_478_293_361.271, "end_time": 1_478_293_361.449}
).decode()  # fmt: skip


def test_documents_the_pipeline_refuses_are_throttled_and_counted(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.open()
    registry = Registry()
    with ThreadPoolExecutor(1) as executor:
        operations = TraceOperations(
            store.reader,
            lambda documents, size, ack: False,  # the feed is full
            executor,
            registry,
            ack_timeout_s=1.0,
            groups=GroupCatalog(GroupTable(store.path)),
        )
        with pytest.raises(ThrottledError, match="retry"):
            asyncio.run(operations.put_trace_segments({"TraceSegmentDocuments": [DOCUMENT]}))
    store.close()

    assert registry.value("fluoroscope_api_documents_throttled") == 1
    assert ThrottledError("x").status == 429
