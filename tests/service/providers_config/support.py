"""An app with two workspaces (admin keys for both, a translate-only key for the first), an
explicit encryption key, and a loopback DeepL fake that only accepts a workspace's own key."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.accounts.keys import (
    DEFAULT_WORKSPACE,
    create_workspace,
    ensure_default_workspace,
    issue_key,
)
from service.app import Overrides, create_app
from service.db.models import Workspace
from service.db.session import create_engine, session_factory
from service.settings import Secret, Settings
from service.translation.providers.base import Provider
from tests.service.providers.fakes import DeepLFake
from tests.service.scripted import FixedDetector

ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode()
# A DeepL free-plan key that belongs to a workspace, not to the server.
WORKSPACE_DEEPL_KEY = "5b2f8c1e-9d3a-4e7b-8c6d-1a2b3c4d5e6f:fx"


@dataclass
class Admin:
    client: AsyncTestClient[Litestar]
    app: Litestar
    key: str
    other_key: str
    translate_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def other_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.other_key}


def with_encryption_key(settings: Settings, key: str = ENCRYPTION_KEY) -> Settings:
    return replace(settings, security=replace(settings.security, encryption_key=Secret(key)))


@asynccontextmanager
async def admin_app(
    settings: Settings, providers: Sequence[Provider], *, detector: Any = None
) -> AsyncIterator[Admin]:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    await ensure_default_workspace(sessions, None)
    async with sessions.begin() as session:
        # Fresh keys each start, so an app can be restarted on the same database.
        names = dict((await session.execute(sa.select(Workspace.name, Workspace.id))).all())
        if "other" not in names:
            names["other"] = (await create_workspace(session, "other")).workspace_id
        issued = await issue_key(session, names[DEFAULT_WORKSPACE], name="admin")
        other = await issue_key(session, names["other"], name="admin")
        translate_only = await issue_key(
            session, issued.workspace_id, name="bot", scopes=("translate",)
        )
    await engine.dispose()
    app = create_app(
        settings, Overrides(providers=list(providers), detector=detector or FixedDetector("en"))
    )
    async with AsyncTestClient(app) as client:
        yield Admin(client, app, issued.key, other.key, translate_only.key)


def serve_workspace_deepl() -> Iterator[DeepLFake]:
    fake = DeepLFake(WORKSPACE_DEEPL_KEY)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def _workspace_deepl_server() -> Iterator[DeepLFake]:
    yield from serve_workspace_deepl()


@pytest.fixture
def workspace_deepl(_workspace_deepl_server: DeepLFake) -> DeepLFake:
    _workspace_deepl_server.reset()
    _workspace_deepl_server.glossaries.clear()
    return _workspace_deepl_server
