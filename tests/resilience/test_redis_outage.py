"""Redis killed in the middle of a stream of translations: nothing fails, and the shared cache
comes back by itself once Redis does."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.resilience.conftest import Stream, eventually, repeats, serve, settings_for
from tests.servers import RedisServer
from tests.service.scripted import ScriptedProvider

pytestmark = pytest.mark.redis


def _kill(server: RedisServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    server.process = None


async def _cached_keys(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return len([k async for k in client.scan_iter("utp:tr:*")])
    finally:
        await client.aclose()


async def test_redis_killed_mid_stream_fails_nothing_and_the_cache_resumes(
    redis_server: RedisServer, redis_url: str, data_dir: Path
) -> None:
    provider = ScriptedProvider("scripted", pairs=None)
    async with serve(settings_for(data_dir, redis_url=redis_url), [provider]) as service:
        stream = Stream(service, repeats())
        stream.start()
        try:
            await stream.until(40)
            assert await _cached_keys(redis_url) > 0
            _kill(redis_server)
            try:
                await stream.until(80)
                ready = await service.client.get("/health/ready")
                assert ready.json()["checks"]["redis"]["status"] == "down"
            finally:
                redis_server.start()
            # A fresh, empty Redis: new translations land in it again, with no restart of ours.
            await eventually(lambda: _has_keys(redis_url))
            await stream.until(40)
        finally:
            results = await stream.stop()

        assert stream.errors == []
        assert [r for r in results if r.status != 200] == []
        assert all(r.body["translated_text"] == f"[es] {r.text}" for r in results)
        # Repeats were served from a cache (memory) throughout, Redis or not.
        assert any(r.body["cached"] for r in results[40:120])
        ready = await service.client.get("/health/ready")
        assert ready.json()["checks"]["redis"]["status"] == "ok"
        assert ready.json()["status"] == "ok"


async def _has_keys(url: str) -> bool:
    return await _cached_keys(url) > 0
