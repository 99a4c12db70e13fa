"""``/healthz``: 200 while every thread that stores traces runs on the database it opened, 503
with the reason otherwise."""

import asyncio
import re
from pathlib import Path

import aiohttp

from fluoroscope.app.collector import Collector
from fluoroscope.config import load


def _collector(tmp_path: Path) -> Collector:
    return Collector(
        load(
            {
                "data_dir": str(tmp_path),
                "udp": "127.0.0.1:0",
                "http": "127.0.0.1:0",
                "otlp_grpc": "off",
                "otlp_http": "off",
                "summary_processes": "0",
            },
            {},
            None,
        )
    )


async def _healthz(url: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def _answers(tmp_path: Path) -> list[tuple[int, dict[str, str]]]:
    collector = _collector(tmp_path)
    lines = await collector.start()
    try:
        found = re.search(r"X-Ray API on (http://\S+)", "\n".join(lines))
        assert found is not None
        url = found.group(1) + "/healthz"
        answers = [await _healthz(url)]
        collector.store.path.rename(collector.store.path.with_suffix(".moved"))
        answers.append(await _healthz(url))
        collector.store.path.with_suffix(".moved").rename(collector.store.path)
        collector.store.checkpointer.stop(5.0)
        answers.append(await _healthz(url))
        collector.store.writer.stop(5.0)
        answers.append(await _healthz(url))
        return answers
    finally:
        await collector.stop()


def test_healthz_names_what_stopped_or_went(tmp_path: Path) -> None:
    running, moved, no_checkpoints, no_writer = asyncio.run(_answers(tmp_path))
    assert running == (200, {"status": "ok"})
    assert moved[0] == 503
    assert moved[1]["reason"].endswith("was removed or replaced; restart")
    assert no_checkpoints == (
        503,
        {"status": "unhealthy", "reason": "the store's checkpoint thread is not running"},
    )
    assert no_writer == (503, {"status": "unhealthy", "reason": "the store writer is not running"})
