"""Issue 24, items 5-6: budgets and rate limits count what a request really costs — context in
the estimate and capped, provider figures clamped, every entry point counted in units
(texts x languages, lines), the token exchange rate-limited, the bot bounded like the API."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from service.container import services_of
from service.db.models import BudgetPeriod
from service.translation.providers.base import TranslationRequest, TranslationResult
from tests.security.conftest import Internal
from tests.service.chat.conftest import Chat
from tests.service.scripted import ScriptedProvider
from tests.service.usage.conftest import App, Starter

PRICE = Decimal(20) / 1_000_000  # the scripted provider's USD per character


def _bills_context(request: TranslationRequest) -> TranslationResult:
    """An LLM-like provider: the context is sent, and paid for, with the text."""
    sent = request.characters + sum(len(c.text) for c in request.context)
    return TranslationResult(
        texts=tuple(f"[{request.target}] {t}" for t in request.texts),
        characters=sent,
        cost=PRICE * sent,
    )


async def _spent(app: App) -> int:
    async with services_of(app.litestar).sessions() as session:
        return int(await session.scalar(sa.select(sa.func.sum(BudgetPeriod.spent_nanos))) or 0)


async def test_context_is_capped_and_counted_in_the_budget_estimate(start: Starter) -> None:
    paid = ScriptedProvider("paid", pairs=None, script=[_bills_context] * 5)
    app = await start(providers=[paid])
    budget = await app.client.put(
        "/api/v1/budgets", json={"scope": "workspace", "monthly_limit": "0.01"}, headers=app.headers
    )
    assert budget.status_code == 200
    huge = [{"text": "x" * 99_000}] * 10
    answer = await app.translate("Hello there", context=huge)
    assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "context"

    # 3 000 characters of context cost 0.06 USD with the text: more than the 0.01 budget.
    answer = await app.translate("Hello there", context=[{"text": "y" * 3000}], provider="paid")
    assert answer.status_code == 402, answer.text
    assert paid.calls == []  # refused before the call, not discovered after it
    assert await _spent(app) == 0


async def test_provider_reported_figures_are_clamped(start: Starter) -> None:
    def negative(request: TranslationRequest) -> TranslationResult:
        return TranslationResult(
            texts=tuple(f"[{request.target}] {t}" for t in request.texts),
            characters=-1_000_000,
            input_tokens=-5,
            cost=Decimal("-0.5"),
        )

    def absurd(request: TranslationRequest) -> TranslationResult:
        return TranslationResult(
            texts=tuple(f"[{request.target}] {t}" for t in request.texts),
            characters=10**9,
            cost=Decimal(1000),
        )

    paid = ScriptedProvider("paid", pairs=None, script=[negative, absurd])
    app = await start(providers=[paid])
    await app.client.put(
        "/api/v1/budgets", json={"scope": "workspace", "monthly_limit": "5"}, headers=app.headers
    )
    first = await app.translate("Negative billing please")
    assert first.status_code == 200 and first.json()["cost"]["amount"] >= 0
    assert await _spent(app) >= 0
    second = await app.translate("Absurd billing please")
    assert second.status_code == 200
    cost = second.json()["cost"]
    assert cost["amount"] < 0.01 and cost["characters"] <= 2 * len("Absurd billing please")
    [listed] = (await app.client.get("/api/v1/budgets", headers=app.headers)).json()["budgets"]
    assert 0 <= listed["spent"] < 0.01 and listed["status"] == "ok"


async def test_every_entry_point_counts_units_against_the_rate_limit(start: Starter) -> None:
    app = await start(rate_limit_key_per_minute=5)
    batch = await app.client.post(
        "/api/v1/translate/batch",
        json={"texts": ["Hello"], "target_langs": ["es", "fr", "de", "it", "pt", "ca"]},
        headers=app.headers,
    )
    assert batch.status_code == 429, batch.text  # 1 text x 6 languages = 6 translations

    lines = await app.client.post(
        "/libretranslate/translate",
        json={
            "q": [f"line {i}" for i in range(6)],
            "source": "en",
            "target": "es",
            "api_key": app.key,
        },
    )
    assert lines.status_code == 429, lines.text
    assert lines.json()["error"].startswith("Slowdown")

    long = await app.client.post(
        "/libretranslate/detect", json={"q": "word " * 200_000, "api_key": app.key}
    )
    assert long.status_code == 400, long.status_code
    statuses = [
        (
            await app.client.post(
                "/libretranslate/detect", json={"q": "Hello world", "api_key": app.key}
            )
        ).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


async def test_the_token_exchange_is_rate_limited_per_user_id(
    start: Starter, internal: Internal
) -> None:
    app = await start(rate_limit_exchange_user_per_minute=3)
    await app.client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_url": internal.url},
        headers=app.headers,
    )
    guesses = [
        (
            await app.client.post(
                "/api/v1/auth/rocketchat",
                json={"user_id": "victim01", "auth_token": f"guess-{i:04d}-xxxxxxxx"},
                headers=app.headers,
            )
        ).status_code
        for i in range(5)
    ]
    assert guesses[:3] == [503] * 3 and guesses[3:] == [429, 429]
    assert len(internal.hits) == 3  # refused guesses never reach Rocket.Chat
    other = await app.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": "someone2", "auth_token": "t" * 20},
        headers=app.headers,
    )
    assert other.status_code == 503


async def test_the_bot_skips_an_oversized_message_and_replayed_edits(chat: Chat) -> None:
    huge = chat.rc.say("GENERAL", "Alice00001", "word " * 20_000)
    await chat.hook(huge)
    assert chat.replies() == []
    scripted = chat.api.provider
    assert scripted.calls == []

    payload = chat.rc.say("GENERAL", "Alice00001", "See you at 5")
    await chat.hook(payload)
    edited = chat.rc.edit(payload["message_id"], "See you at 6")
    await chat.hook(edited)
    calls = len(scripted.calls)
    for _ in range(3):  # the same edit payload, replayed
        await chat.hook(edited)
    assert len(scripted.calls) == calls
    assert len(chat.replies()) == 1
