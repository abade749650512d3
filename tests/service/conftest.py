"""An app wired to a fresh SQLite database and scripted providers, with an API key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.db.migrate import upgrade
from service.db.session import create_engine, session_factory
from service.settings import DatabaseSettings, ServerSettings, Settings
from tests.service.scripted import FixedDetector, ScriptedProvider


@dataclass
class Api:
    client: AsyncTestClient[Litestar]
    key: str
    provider: ScriptedProvider
    settings: Settings

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = Settings(
        server=ServerSettings(environment="test", data_dir=tmp_path),
        database=DatabaseSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}"),
    )
    upgrade(settings.database_url)
    return settings


async def start_api(
    settings: Settings,
    provider: ScriptedProvider,
    detector=None,
    *,
    more_providers: tuple[ScriptedProvider, ...] = (),
) -> AsyncIterator[Api]:
    engine = create_engine(settings.database_url)
    issued = await ensure_default_workspace(session_factory(engine), None)
    await engine.dispose()
    assert issued is not None
    app = create_app(
        settings,
        Overrides(providers=[provider, *more_providers], detector=detector or FixedDetector("en")),
    )
    async with AsyncTestClient(app) as client:
        yield Api(client=client, key=issued.key, provider=provider, settings=settings)


@pytest.fixture
async def api(sqlite_settings: Settings) -> AsyncIterator[Api]:
    async for value in start_api(sqlite_settings, ScriptedProvider("scripted", pairs=None)):
        yield value


def with_limits(settings: Settings, **limits: int) -> Settings:
    return replace(settings, limits=replace(settings.limits, **limits))
