"""Slow clients, oversized bodies and many idle connections at once: the server keeps answering
its health checks (and refuses what is too large with 413, without reading it all)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from tests.resilience.conftest import Service, serve, settings_for
from tests.service.scripted import ScriptedProvider

IDLE_CONNECTIONS = 300
SLOW_HEADERS = 60
SLOW_BODIES = 30
OVERSIZED = 20


async def _open(service: Service) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = service.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _slow_headers(service: Service, stop: asyncio.Event) -> None:
    """Slowloris: a request line and headers one byte at a time, never finished."""
    _, writer = await _open(service)
    try:
        request = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
        for byte in request:
            if stop.is_set():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
    except ConnectionError:
        pass  # the server may hang up on us: that is fine too
    finally:
        writer.close()


async def _slow_body(service: Service, stop: asyncio.Event) -> None:
    """A translation whose declared body arrives a few bytes at a time."""
    _, writer = await _open(service)
    head = (
        f"POST /api/v1/translate HTTP/1.1\r\nHost: x\r\nX-API-Key: {service.key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    try:
        writer.write(head.encode() + b'{"text": "')
        while not stop.is_set():
            writer.write(b"aaaa")
            await writer.drain()
            await asyncio.sleep(0.05)
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _oversized(service: Service, *, chunked: bool) -> int:
    body = b'{"text": "' + b"a" * (3 * service.settings.limits.max_body_bytes) + b'"}'
    headers = {**service.headers, "Content-Type": "application/json"}

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        try:
            response = await client.post(
                "/api/v1/translate", content=chunks() if chunked else body, headers=headers
            )
        except httpx.HTTPError:
            return 0  # the server closed the connection mid-upload: refused as well
    return response.status_code


async def test_health_checks_are_answered_under_hostile_clients(tmp_path: Path) -> None:
    provider = ScriptedProvider("scripted", pairs=None)
    async with serve(settings_for(tmp_path), [provider]) as service:
        stop = asyncio.Event()
        idle = [await _open(service) for _ in range(IDLE_CONNECTIONS)]
        slow = [
            *(asyncio.create_task(_slow_headers(service, stop)) for _ in range(SLOW_HEADERS)),
            *(asyncio.create_task(_slow_body(service, stop)) for _ in range(SLOW_BODIES)),
        ]
        probes: list[tuple[str, int]] = []

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
                while not stop.is_set():
                    for path in ("/health/live", "/health/ready"):
                        response = await client.get(path)
                        probes.append((path, response.status_code))
                    await asyncio.sleep(0.02)

        prober = asyncio.create_task(probe())
        try:
            await asyncio.sleep(0.5)
            refused = await asyncio.gather(
                *(_oversized(service, chunked=i % 2 == 1) for i in range(OVERSIZED))
            )
            # And the API still translates for a well-behaved client meanwhile.
            translated = await service.translate("Still here?")
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await prober
            await asyncio.gather(*slow)
            for _, writer in idle:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

        assert set(refused) <= {413, 0} and refused.count(413) >= OVERSIZED // 2
        assert translated.status_code == 200
        assert len(probes) >= 20
        assert [p for p in probes if p[1] != 200] == []
