"""Every way a translation enters is admitted alike (service/admission/translator.py).

The v1 API (single and batch), the LibreTranslate API, the Rocket.Chat bot and the `!translate`
chat command each ask for the same translations under the same rate limits, budgets and
channel settings, and are let in, downgraded or refused the same way; only the wire formats
differ (an HTTP error, a LibreTranslate error, a bot health note, a private chat answer).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.chat.bot import ChatBot
from service.clock import FrozenClock
from service.container import services_of
from service.db.migrate import upgrade
from service.db.session import create_engine, session_factory
from service.settings import DatabaseSettings, ServerSettings, Settings, UsageSettings
from service.translation.providers.base import Tier
from tests.service.conftest import Api
from tests.service.scripted import FixedDetector, ScriptedProvider

from .conftest import BOT, chat_settings, configure
from .fake_chat import ChatFake

ROOM = "GENERAL"
AUTHOR = "Alice00001"
# The one other member who reads each language (the bot translates into its readers' languages).
READER = {"es": "Bob0000001", "fr": "Carla00001"}
WAYS = ["v1", "v1-batch", "libretranslate", "bot", "command"]
# LibreTranslate requests name no channel (its wire format has none): channel settings cannot
# apply to them.
CHANNEL_WAYS = [way for way in WAYS if way != "libretranslate"]


def text(i: int) -> str:
    """50 characters: 0.001 USD at the paid provider's price (20 USD per million)."""
    return f"Admission message {i:04d} ".ljust(50, "x")


@dataclass(frozen=True)
class Answer:
    provider: str | None  # who translated; None: nothing was translated
    refusal: str | None  # the refusal's message, as the way shows it


@dataclass
class World:
    api: Api
    rc: ChatFake
    token: str
    workspace_id: uuid.UUID
    providers: list[ScriptedProvider]

    @property
    def bot(self) -> ChatBot:
        bot: ChatBot = services_of(self.api.client.app).chat_bot
        return bot

    def calls(self) -> list[tuple[str, str | None, str | None]]:
        """(provider, target, formality) of every provider call so far."""
        return [
            (p.name, c.target, c.formality)
            for p in self.providers
            for c in p.calls
            if not c.texts[0].startswith("Spend ")
        ]

    async def spend(self, texts: int) -> None:
        """Spend 0.001 USD per text through the v1 API, without a channel."""
        for i in range(texts):
            response = await self.api.client.post(
                "/api/v1/translate",
                json={"text": f"Spend {i:04d} ".ljust(50, "y"), "target_lang": "de"},
                headers=self.api.headers,
            )
            assert response.status_code == 200, response.text

    async def budget(self, limit: str, **extra: Any) -> None:
        response = await self.api.client.put(
            "/api/v1/budgets",
            json={"scope": "workspace", "monthly_limit": limit, **extra},
            headers=self.api.headers,
        )
        assert response.status_code == 200, response.text

    async def channel(self, **settings: Any) -> None:
        response = await self.api.client.put(
            f"/api/v1/channels/{ROOM}", json=settings, headers=self.api.headers
        )
        assert response.status_code == 200, response.text

    async def settle(self) -> None:
        """Wait for the bot's background work (the app runs on the test client's own loop)."""
        deadline = asyncio.get_running_loop().time() + 20
        while self.bot.busy:
            assert asyncio.get_running_loop().time() < deadline, "the bot never finished"
            await asyncio.sleep(0.01)


Way = Callable[[World, str, str], Awaitable[Answer]]


def _provider_of(world: World, before: int) -> str | None:
    new = world.calls()[before:]
    return new[-1][0] if new else None


async def _v1(world: World, source_text: str, target: str) -> Answer:
    before = len(world.calls())
    response = await world.api.client.post(
        "/api/v1/translate",
        json={"text": source_text, "target_lang": target, "channel_id": ROOM},
        headers=world.api.headers,
    )
    if response.status_code != 200:
        return Answer(None, response.json()["error"]["message"])
    assert response.json()["provider"] == _provider_of(world, before)
    return Answer(response.json()["provider"], None)


async def _v1_batch(world: World, source_text: str, target: str) -> Answer:
    response = await world.api.client.post(
        "/api/v1/translate/batch",
        json={"texts": [source_text], "target_lang": target, "channel_id": ROOM},
        headers=world.api.headers,
    )
    if response.status_code != 200:
        return Answer(None, response.json()["error"]["message"])
    [item] = response.json()["translations"]
    if item.get("error"):
        return Answer(None, item["error"]["message"])
    return Answer(item["provider"], None)


async def _libretranslate(world: World, source_text: str, target: str) -> Answer:
    before = len(world.calls())
    response = await world.api.client.post(
        "/libretranslate/translate",
        json={"q": source_text, "source": "auto", "target": target, "api_key": world.api.key},
    )
    if response.status_code != 200:
        return Answer(None, response.json()["error"])
    assert response.json()["translatedText"] == f"[{target}] {source_text}"
    return Answer(_provider_of(world, before), None)


async def _bot(world: World, source_text: str, target: str) -> Answer:
    """Alice writes in a room whose one other reader reads `target`."""
    world.rc.rooms[ROOM].members = {BOT, AUTHOR, READER[target]}
    before = len(world.calls())
    replies = len(world.rc.by(BOT))
    payload = world.rc.say(ROOM, AUTHOR, source_text)
    response = await world.api.client.post(
        "/integrations/rocketchat/outgoing", json={**payload, "token": world.token}
    )
    assert response.status_code == 200
    await world.settle()
    if len(world.rc.by(BOT)) > replies:
        return Answer(_provider_of(world, before), None)
    problem = world.bot.health.last_problem(world.workspace_id)
    return Answer(None, problem.message if problem is not None else None)


async def _command(world: World, source_text: str, target: str) -> Answer:
    before = len(world.calls())
    words = f"!translate {target} {source_text}"
    payload = world.rc.say(ROOM, AUTHOR, words, trigger_word="!translate")
    response = await world.api.client.post(
        "/integrations/rocketchat/outgoing", json={**payload, "token": world.token}
    )
    assert response.status_code == 200
    await world.settle()
    [answer, *_] = [
        b["text"]
        for b in reversed(world.rc.posted("chat.postMessage"))
        if b.get("channel") == "@alice00001"
    ]
    if answer.startswith("⚠️ "):
        return Answer(None, answer.removeprefix("⚠️ "))
    assert answer.endswith(f"[{target}] {source_text}"), answer
    return Answer(_provider_of(world, before), None)


ASK: dict[str, Way] = {
    "v1": _v1,
    "v1-batch": _v1_batch,
    "libretranslate": _libretranslate,
    "bot": _bot,
    "command": _command,
}


@pytest.fixture
async def start(tmp_path: Path, rc: ChatFake) -> AsyncIterator[Callable[..., Any]]:
    """Start the app with a paid provider (and a free economy one, if asked) on a clock in the
    middle of a month, configured for the fake Rocket.Chat."""
    apps: list[AsyncTestClient[Any]] = []

    async def _start(*, free: bool = True, **usage: Any) -> World:
        settings = chat_settings(
            Settings(
                server=ServerSettings(environment="test", data_dir=tmp_path),
                database=DatabaseSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"),
                usage=UsageSettings(**usage),
            )
        )
        await asyncio.to_thread(upgrade, settings.database_url)
        engine = create_engine(settings.database_url)
        issued = await ensure_default_workspace(session_factory(engine), None)
        await engine.dispose()
        assert issued is not None
        paid = ScriptedProvider("paid", pairs=None)
        providers = [paid]
        if free:
            providers.append(
                ScriptedProvider(
                    "free", pairs=None, tier=Tier.ECONOMY, price_per_million_chars=Decimal(0)
                )
            )
        app = create_app(
            settings,
            Overrides(
                providers=providers,
                detector=FixedDetector("en"),
                clock=FrozenClock(datetime(2026, 12, 15, 12, 0, tzinfo=UTC)),
            ),
        )
        client = AsyncTestClient(app)
        await client.__aenter__()
        apps.append(client)
        api = Api(client=client, key=issued.key, provider=paid, settings=settings)
        token = await configure(api, rc)
        return World(api, rc, token, issued.workspace_id, providers)

    yield _start
    for client in apps:
        await client.__aexit__(None, None, None)


@pytest.mark.parametrize("way", WAYS)
async def test_rate_limits(way: str, start: Callable[..., Awaitable[World]]) -> None:
    """Two translations a minute per key and per channel: the third is refused, whichever way
    it comes (the bot and the command have no key; they count against the channel)."""
    world = await start(rate_limit_key_per_minute=2, rate_limit_channel_per_minute=2)
    answers = [await ASK[way](world, text(i), "es") for i in range(3)]
    assert [a.provider for a in answers] == ["paid", "paid", None]
    refusal = answers[2].refusal or ""
    if way == "libretranslate":
        assert refusal == "Slowdown: 2 per 1 minute"  # LibreTranslate's own words
    else:
        assert "rate limit reached (2 per minute per" in refusal, refusal
    assert world.calls() == [("paid", "es", None)] * 2


@pytest.mark.parametrize("way", WAYS)
async def test_soft_budget_limit_sends_to_the_economy_tier(
    way: str, start: Callable[..., Awaitable[World]]
) -> None:
    world = await start()
    await world.budget("0.005", soft_limit_ratio=0.6)
    assert (await ASK[way](world, text(1), "es")).provider == "paid"
    await world.spend(2)  # 0.003 of 0.005: the soft limit
    assert await ASK[way](world, text(2), "es") == Answer("free", None)


@pytest.mark.parametrize("way", WAYS)
async def test_budget_hard_limit(way: str, start: Callable[..., Awaitable[World]]) -> None:
    """Only the paid provider: a budget with room for two translations lets two through."""
    world = await start(free=False)
    # The bot would send the room's earlier messages along as context, and pay for them.
    await world.channel(context_enabled=False)
    await world.budget("0.002", soft_limit_ratio=1.0)
    answers = [await ASK[way](world, text(i), "es") for i in range(3)]
    assert [a.provider for a in answers] == ["paid", "paid", None]
    assert "monthly budget of this workspace" in (answers[2].refusal or "")


@pytest.mark.parametrize("way", CHANNEL_WAYS)
async def test_channel_settings(way: str, start: Callable[..., Awaitable[World]]) -> None:
    """The channel blocks Spanish, asks for formal speech and caps a message at less than the
    paid provider charges: no Spanish, and French from the free engine, formally."""
    world = await start()
    await world.channel(blocked_langs=["es"], formality="more", max_cost_per_message=0.0005)
    spanish = await ASK[way](world, text(1), "es")
    assert spanish.provider is None
    if way != "bot":  # the bot does not translate into a blocked language, it does not refuse
        assert spanish.refusal == f"channel {ROOM} does not allow translation into es"
    french = await ASK[way](world, text(2), "fr")
    assert french == Answer("free", None)
    assert world.calls() == [("free", "fr", "more")]
