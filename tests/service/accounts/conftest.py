"""An app with an operator key, two tenants and a loopback Rocket.Chat behind each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.accounts import apikeys
from service.accounts.identity import Identity
from service.container import services_of
from service.db.session import create_engine, session_factory
from service.settings import Settings
from tests.service.conftest import start_api
from tests.service.scripted import ScriptedProvider

from .fake_rocketchat import RcUser, RocketChatFake

BOT_ID = "BotUser0001"


@pytest.fixture(scope="session")
def _rocketchat_server() -> Iterator[RocketChatFake]:
    fake = RocketChatFake()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def rocketchat(_rocketchat_server: RocketChatFake) -> RocketChatFake:
    _rocketchat_server.reset()
    _rocketchat_server.add_user(BOT_ID, roles=["bot"])
    return _rocketchat_server


@dataclass
class Tenant:
    name: str
    id: uuid.UUID
    admin_key: str
    admin_key_id: uuid.UUID

    @property
    def admin(self) -> dict[str, str]:
        return {"X-API-Key": self.admin_key}


@dataclass
class Env:
    client: AsyncTestClient[Litestar]
    settings: Settings
    rc: RocketChatFake
    operator_key: str
    default_key: str
    tenants: dict[str, Tenant] = field(default_factory=dict)

    @property
    def operator(self) -> dict[str, str]:
        return {"X-API-Key": self.operator_key}

    @property
    def identity(self) -> Identity:
        identity: Identity = services_of(self.client.app).identity
        return identity

    async def tenant(self, name: str, *, rocketchat: bool = True) -> Tenant:
        created = await self.client.post(
            "/api/v1/workspaces", json={"name": name}, headers=self.operator
        )
        assert created.status_code == 201, created.text
        body = created.json()
        tenant = Tenant(
            name=name,
            id=uuid.UUID(body["workspace"]["id"]),
            admin_key=body["admin_key"]["key"],
            admin_key_id=uuid.UUID(body["admin_key"]["api_key"]["id"]),
        )
        if rocketchat:
            bot = self.rc.users[BOT_ID]
            configured = await self.client.put(
                f"/api/v1/workspaces/{tenant.id}/settings",
                json={
                    "rocketchat_url": self.rc.url,
                    "rocketchat_bot_user_id": bot.id,
                    "rocketchat_bot_token": bot.token,
                },
                headers=tenant.admin,
            )
            assert configured.status_code == 200, configured.text
        self.tenants[name] = tenant
        return tenant

    async def login(self, tenant: Tenant, user: RcUser) -> str:
        """A user token for `user`, through the real exchange."""
        response = await self.client.post(
            "/api/v1/auth/rocketchat",
            json={"user_id": user.id, "auth_token": user.token},
            headers=tenant.admin,
        )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def mint_operator_key(settings: Settings) -> str:
    import sqlalchemy as sa

    from service.db.models import Workspace

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            default = await session.scalar(
                sa.select(Workspace.id).where(Workspace.name == "default")
            )
            assert default is not None
            issued = await apikeys.create(
                session,
                default,
                name="operator",
                scopes=["operator"],
                expires_in_days=None,
                actor="test",
                allow_operator=True,
            )
    finally:
        await engine.dispose()
    return issued.key


@pytest.fixture
async def env(sqlite_settings: Settings, rocketchat: RocketChatFake) -> AsyncIterator[Env]:
    async for api in start_api(sqlite_settings, ScriptedProvider("scripted", pairs=None)):
        operator_key = await mint_operator_key(sqlite_settings)
        yield Env(
            client=api.client,
            settings=sqlite_settings,
            rc=rocketchat,
            operator_key=operator_key,
            default_key=api.key,
        )


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    code: str = body["error"]["code"]
    return code


def error_fields(response: Any) -> list[str]:
    """The fields a 4xx names: schema errors list them, domain errors give one."""
    details = response.json()["error"].get("details")
    if isinstance(details, list):
        return [str(d["field"]) for d in details]
    return [str(details["field"])] if isinstance(details, dict) and "field" in details else []
