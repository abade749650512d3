"""The service served by uvicorn on a free loopback port, and a stream of requests against it.

The app runs in the test's event loop (as deployed: uvicorn, the real middleware, auth, rate
limits, usage outbox), so a test can look at its breakers and cache while clients hammer it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.container import ServiceContainer, services_of
from service.db.migrate import upgrade
from service.db.session import create_engine, session_factory
from service.settings import (
    CacheSettings,
    DatabaseSettings,
    LimitSettings,
    ProviderSettings,
    Secret,
    SecuritySettings,
    ServerSettings,
    Settings,
    UsageSettings,
)
from service.translation.providers.base import Provider
from tests.servers import free_port
from tests.service.scripted import FixedDetector


@dataclass
class Service:
    client: httpx.AsyncClient
    litestar: Litestar
    settings: Settings
    key: str
    url: str

    @property
    def services(self) -> ServiceContainer:
        return services_of(self.litestar)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    async def translate(self, text: str, target: str = "es") -> httpx.Response:
        return await self.client.post(
            "/api/v1/translate", json={"text": text, "target_lang": target}, headers=self.headers
        )


def settings_for(
    data_dir: Path,
    *,
    database_url: str = "",
    redis_url: str = "",
    providers: ProviderSettings | None = None,
    limits: LimitSettings | None = None,
    **security: Any,
) -> Settings:
    return Settings(
        server=ServerSettings(environment="test", data_dir=data_dir),
        database=DatabaseSettings(
            database_url=database_url or f"sqlite+aiosqlite:///{data_dir / 'utp.db'}"
        ),
        # A short retry so that "Redis is back" shows within a second, not five.
        cache=CacheSettings(redis_url=Secret(redis_url), redis_retry_seconds=0.3),
        security=replace(SecuritySettings(), **security),
        providers=providers or ProviderSettings(apertium_enabled=False),
        limits=limits or LimitSettings(),
        usage=UsageSettings(usage_flush_interval_seconds=0.05),
    )


@contextlib.asynccontextmanager
async def serve(
    settings: Settings,
    providers: Sequence[Provider] | None = None,
    *,
    seed: Callable[[], Awaitable[None]] | None = None,
    seed_url: str = "",
) -> AsyncIterator[Service]:
    """Migrate, create the default workspace, serve; `providers=None` builds them from settings.

    `seed_url`: migrate and seed that database instead (the primary of a read replica the
    service uses), then `seed()` before the service starts (waiting for the replica)."""
    url = seed_url or settings.database_url
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    issued = await ensure_default_workspace(session_factory(engine), None)
    await engine.dispose()
    assert issued is not None
    if seed is not None:
        await seed()
    app = create_app(
        settings,
        Overrides(
            providers=None if providers is None else list(providers),
            detector=FixedDetector("en"),
        ),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the service did not start"
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        try:
            yield Service(client, app, settings, issued.key, url)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 30)


@dataclass
class Result:
    text: str
    status: int
    seconds: float
    body: dict[str, Any]


@dataclass
class Stream:
    """Requests sent by `workers` concurrent clients until stopped; every answer is kept."""

    service: Service
    texts: Callable[[int], str]
    workers: int = 8
    results: list[Result] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sent: int = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def _worker(self) -> None:
        while not self._stop.is_set():
            text = self.texts(self._sent)
            self._sent += 1
            started = time.perf_counter()
            try:
                response = await self.service.translate(text)
            except httpx.HTTPError as exc:
                self.errors.append(exc)
                continue
            body = response.json() if response.content else {}
            self.results.append(
                Result(text, response.status_code, time.perf_counter() - started, body)
            )

    async def until(self, count: int, *, at_least: float = 0.0) -> None:
        """Wait until `count` more answers arrived (and at least `at_least` seconds passed)."""
        target = len(self.results) + count
        floor = time.monotonic() + at_least
        await eventually(
            lambda: _true(len(self.results) >= target and time.monotonic() >= floor),
            seconds=60,
        )

    async def stop(self) -> list[Result]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.results


async def _true(value: bool) -> bool:
    return value


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {seconds}s")
        await asyncio.sleep(0.05)


def repeats(fraction_new: float = 0.7) -> Callable[[int], str]:
    """Chat-like traffic: most messages new, the rest repeats of earlier ones."""

    def text(i: int) -> str:
        if i % 10 < round(fraction_new * 10):
            return f"Message number {i} about the release"
        return f"Message number {(i // 10) * 10} about the release"

    return text


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
