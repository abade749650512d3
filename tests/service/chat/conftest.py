"""The app with a configured workspace (Rocket.Chat URL, bot, webhook token) and a loopback
Rocket.Chat that holds rooms, members and messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from service.chat.bot import ChatBot
from service.container import services_of
from service.db.session import create_engine, session_factory
from service.settings import ChatSettings, Settings
from tests.service.conftest import Api, start_api
from tests.service.scripted import FixedDetector, ScriptedProvider

from .fake_chat import ChatFake

BOT = "TranslatorBot01"
SPANISH = "Hola a todos, ¿qué tal?"
FRENCH = "Bonjour tout le monde"


@pytest.fixture(scope="session")
def _chat_server() -> Iterator[ChatFake]:
    fake = ChatFake()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def rc(_chat_server: ChatFake) -> ChatFake:
    """Alice (en, author), Bob (es), Carla (fr), Dave (en) in #general; the bot is a member."""
    fake = _chat_server
    fake.reset()
    fake.add_user(BOT, roles=["bot"])
    fake.add_user("Alice00001", language="en")
    fake.add_user("Bob0000001", language="es")
    fake.add_user("Carla00001", language="fr")
    fake.add_user("Dave000001", language="en")
    room = fake.add_room("GENERAL", roles={"Alice00001": ["owner"]})
    room.members |= {BOT, "Alice00001", "Bob0000001", "Carla00001", "Dave000001"}
    return fake


def chat_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        chat=ChatSettings(
            chat_delivery_attempts=3,
            chat_delivery_backoff_seconds=0.01,
            chat_members_cache_seconds=0.0,
            chat_context_messages=3,
            chat_shutdown_grace_seconds=5.0,
        ),
    )


@dataclass
class Chat:
    api: Api
    rc: ChatFake
    token: str
    sent: list[httpx.Response] = field(default_factory=list)

    @property
    def bot(self) -> ChatBot:
        bot: ChatBot = services_of(self.api.client.app).chat_bot
        return bot

    async def hook(self, payload: dict[str, Any], *, token: str | None = None) -> httpx.Response:
        """Deliver an outgoing-webhook call as Rocket.Chat would, then let the bot finish."""
        body = {**payload, "token": self.token if token is None else token}
        response = await self.api.client.post("/integrations/rocketchat/outgoing", json=body)
        await self.settle()
        return response

    async def settle(self) -> None:
        """Wait for the bot's background work (the app runs on the test client's own loop)."""
        deadline = asyncio.get_running_loop().time() + 20
        while self.bot.busy:
            assert asyncio.get_running_loop().time() < deadline, "the bot never finished"
            await asyncio.sleep(0.01)

    async def rows(self, statement: Any) -> list[Any]:
        """Query the app's database through an engine of the test's own."""
        engine = create_engine(self.api.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.execute(statement)).all())
        finally:
            await engine.dispose()

    def replies(self) -> list[dict[str, Any]]:
        """The bot's live messages, oldest first."""
        return self.rc.by(BOT)


async def configure(api: Api, rc: ChatFake, *, bot_token: str | None = None) -> str:
    bot = rc.users[BOT]
    response = await api.client.put(
        "/api/v1/workspaces/current/settings",
        json={
            "rocketchat_url": rc.url,
            "rocketchat_bot_user_id": bot.id,
            "rocketchat_bot_token": bot_token or bot.token,
        },
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    response = await api.client.post(
        "/api/v1/workspaces/current/webhook-token", headers=api.headers
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["webhook_token"]
    return token


@pytest.fixture
def detector() -> FixedDetector:
    return FixedDetector("en", {SPANISH: "es", FRENCH: "fr"})


@pytest.fixture
async def chat(
    sqlite_settings: Settings, rc: ChatFake, detector: FixedDetector
) -> AsyncIterator[Chat]:
    provider = ScriptedProvider("scripted", pairs=None)
    async for api in start_api(chat_settings(sqlite_settings), provider, detector):
        token = await configure(api, rc)
        yield Chat(api=api, rc=rc, token=token)
