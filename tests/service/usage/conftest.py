"""Apps for the usage tests: SQLite or real PostgreSQL, one or more scripted providers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from litestar import Litestar

from service.accounts.keys import IssuedKey, create_workspace, ensure_default_workspace, issue_key
from service.app import Overrides, create_app
from service.clock import SYSTEM_CLOCK, Clock
from service.container import services_of
from service.db.migrate import upgrade
from service.db.models import UsageEvent
from service.db.session import create_engine, session_factory
from service.settings import (
    CacheSettings,
    DatabaseSettings,
    Secret,
    ServerSettings,
    Settings,
    UsageSettings,
)
from service.translation.providers.base import Provider
from service.usage.services import UsageServices
from tests.servers import free_port
from tests.service.scripted import FixedDetector, ScriptedProvider


@dataclass
class App:
    """The service served by uvicorn in the test's own event loop (as deployed, and so that
    the test may use the app's database pool and services directly)."""

    client: httpx.AsyncClient
    litestar: Litestar
    settings: Settings
    key: str
    workspace_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def services(self) -> UsageServices:
        return services_of(self.litestar).usage

    async def translate(self, text: str, target: str = "es", **extra: Any) -> Any:
        headers = extra.pop("headers", self.headers)
        return await self.client.post(
            "/api/v1/translate",
            json={"text": text, "target_lang": target, **extra},
            headers=headers,
        )

    async def events(self) -> list[UsageEvent]:
        async with services_of(self.litestar).sessions() as session:
            return list(await session.scalars(sa.select(UsageEvent)))

    async def tenant(
        self, name: str, scopes: tuple[str, ...] | None = None
    ) -> tuple[str, uuid.UUID]:
        """Another workspace (or, with `scopes`, another key of this one)."""
        async with services_of(self.litestar).sessions.begin() as session:
            if scopes is None:
                issued = await create_workspace(session, name)
            else:
                issued = await issue_key(session, self.workspace_id, name=name, scopes=scopes)
        return issued.key, issued.workspace_id


def make_settings(data_dir: Path, database_url: str, redis_url: str = "", **usage: Any) -> Settings:
    defaults: dict[str, Any] = {"usage_flush_interval_seconds": 0.05}
    return Settings(
        server=ServerSettings(environment="test", data_dir=data_dir),
        database=DatabaseSettings(database_url=database_url),
        cache=CacheSettings(redis_url=Secret(redis_url)),
        usage=UsageSettings(**{**defaults, **usage}),
    )


Starter = Callable[..., Awaitable[App]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Starter]:
    """Start apps on demand; all are stopped (gracefully) at the end of the test."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None], httpx.AsyncClient]] = []
    keys: dict[str, IssuedKey] = {}

    async def _start(
        settings: Settings | None = None,
        providers: Sequence[Provider] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        **usage: Any,
    ) -> App:
        if settings is None:
            settings = make_settings(
                tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}", **usage
            )
        elif usage:
            settings = replace(settings, usage=replace(settings.usage, **usage))
        await asyncio.to_thread(upgrade, settings.database_url)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        # Apps on one database are replicas of one deployment: same workspace, same key.
        issued = keys.get(settings.database_url) or await ensure_default_workspace(sessions, None)
        assert issued is not None
        keys[settings.database_url] = issued
        await engine.dispose()
        app = create_app(
            settings,
            Overrides(
                providers=list(providers or [ScriptedProvider("scripted", pairs=None)]),
                detector=FixedDetector("en"),
                clock=clock,
            ),
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "the service did not start"
            await asyncio.sleep(0.02)
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        running.append((server, task, client))
        return App(client, app, settings, issued.key, issued.workspace_id)

    yield _start
    for server, task, client in reversed(running):
        await client.aclose()
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {seconds}s")
        await asyncio.sleep(0.1)
