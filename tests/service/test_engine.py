"""The engine's hot path: markup, fallback, same-language skip, single-flight, cache tiers."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from service.translation.cache import MemoryLRU, TranslationCache
from service.translation.engine import Caller, Engine, Options
from service.translation.providers.base import (
    TransientProviderError,
    TranslationRequest,
    TranslationResult,
)
from service.translation.router import Router
from tests.service.scripted import FixedDetector, ScriptedProvider

CALLER = Caller(workspace_id=uuid.uuid4())


def make_engine(
    *providers: ScriptedProvider, cache: TranslationCache | None = None, detector=None
) -> Engine:
    return Engine(
        router=Router(list(providers), timeout=2.0, max_retries=0, backoff_base=0.0),
        cache=cache or TranslationCache(memory=MemoryLRU(1000, 3600)),
        detector=detector or FixedDetector("en"),
        usage=None,
        request_timeout=5.0,
    )


MARKUP_SAMPLES = [
    "Deploy with ```bash\nmake run --fast\n``` then ping @maria.lopez",
    "See https://example.com/a_b?x=1&y=2 and <https://rocket.chat/docs|the docs> :tada:",
    "Ship it 👍🏽 in #release-2024 with `git push --force-with-lease` 👨‍👩‍👧 🇪🇸",
]


@pytest.mark.parametrize("text", MARKUP_SAMPLES)
async def test_markup_survives_byte_for_byte(text: str) -> None:
    seen: list[str] = []

    def reorder(request: TranslationRequest) -> TranslationResult:
        # A provider that translates by reversing word order: sentinels move but stay intact.
        seen.extend(request.texts)
        return TranslationResult(
            texts=tuple(" ".join(reversed(t.split(" "))) for t in request.texts)
        )

    provider = ScriptedProvider(script=[reorder])
    [outcome] = await make_engine(provider).translate([text], Options(target="es"), CALLER)
    assert not outcome.untranslated
    for token in (
        "@maria.lopez",
        "https://example.com/a_b?x=1&y=2",
        "`git push --force-with-lease`",
        "```bash\nmake run --fast\n```",
        "<https://rocket.chat/docs|the docs>",
        "👍🏽",
        "👨‍👩‍👧",
        "🇪🇸",
        ":tada:",
        "#release-2024",
    ):
        if token in text:
            assert token in outcome.text
            assert token not in seen[0], "the provider must never see protected markup"


async def test_lost_sentinel_falls_back_to_next_provider() -> None:
    broken = ScriptedProvider("first", script=[lambda r: TranslationResult(texts=("hola",))])
    good = ScriptedProvider("second")
    [outcome] = await make_engine(broken, good).translate(["hi @bob"], Options(target="es"), CALLER)
    assert outcome.provider == "second"
    assert outcome.text == "[es] hi @bob"
    assert len(broken.calls) == 1 and len(good.calls) == 1


async def test_every_provider_losing_markup_returns_original_flagged() -> None:
    mangle = lambda r: TranslationResult(texts=tuple(t.replace("⟦0⟧", "[0]") for t in r.texts))  # noqa: E731
    a = ScriptedProvider("a", script=[mangle])
    b = ScriptedProvider("b", script=[mangle])
    [outcome] = await make_engine(a, b).translate(["ping @ana now"], Options(target="es"), CALLER)
    assert outcome.untranslated is True
    assert outcome.text == "ping @ana now"


async def test_same_language_is_returned_untouched_without_a_call() -> None:
    provider = ScriptedProvider()
    detector = FixedDetector("es")
    [outcome] = await make_engine(provider, detector=detector).translate(
        ["¿Qué tal el proyecto?"], Options(target="es"), CALLER
    )
    assert outcome.text == "¿Qué tal el proyecto?"
    assert outcome.provider is None and not outcome.untranslated
    assert provider.calls == []


async def test_markup_only_message_needs_no_provider() -> None:
    provider = ScriptedProvider()
    [outcome] = await make_engine(provider).translate(
        ["👍 https://x.org"], Options(target="es"), CALLER
    )
    assert outcome.text == "👍 https://x.org"
    assert provider.calls == []


async def test_hundred_concurrent_identical_requests_make_one_provider_call() -> None:
    provider = ScriptedProvider(delay=0.05)
    engine = make_engine(provider)
    results = await asyncio.gather(
        *(engine.translate(["Good morning"], Options(target="es"), CALLER) for _ in range(100))
    )
    assert len(provider.calls) == 1
    assert {r[0].text for r in results} == {"[es] Good morning"}
    assert sum(not r[0].cached for r in results) == 1


async def test_second_request_is_a_cache_hit() -> None:
    provider = ScriptedProvider()
    engine = make_engine(provider)
    [first] = await engine.translate(["See you tomorrow"], Options(target="es"), CALLER)
    [second] = await engine.translate(["See you tomorrow"], Options(target="es"), CALLER)
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text and second.provider == first.provider
    assert len(provider.calls) == 1


async def test_cache_key_separates_formality_and_tier() -> None:
    provider = ScriptedProvider()
    engine = make_engine(provider)
    await engine.translate(["Hello"], Options(target="de", formality="more"), CALLER)
    [other] = await engine.translate(["Hello"], Options(target="de", formality="less"), CALLER)
    [tier] = await engine.translate(["Hello"], Options(target="de", strategy="premium"), CALLER)
    assert not other.cached and not tier.cached
    assert len(provider.calls) == 3


async def test_batch_misses_go_to_the_provider_in_one_call() -> None:
    provider = ScriptedProvider()
    engine = make_engine(provider)
    await engine.translate(["one"], Options(target="es"), CALLER)
    outcomes = await engine.translate(["one", "two", "three", "two"], Options(target="es"), CALLER)
    assert [o.text for o in outcomes] == ["[es] one", "[es] two", "[es] three", "[es] two"]
    assert [o.cached for o in outcomes] == [True, False, False, True]
    assert len(provider.calls) == 2
    assert provider.calls[1].texts == ("two", "three")


async def test_transient_failure_falls_back_and_names_the_answering_provider() -> None:
    flaky = ScriptedProvider("flaky", script=[TransientProviderError("flaky", "503")])
    backup = ScriptedProvider("backup")
    [outcome] = await make_engine(flaky, backup).translate(["Hello"], Options(target="fr"), CALLER)
    assert outcome.provider == "backup"
    assert not outcome.untranslated


async def test_all_providers_failing_is_an_error_not_a_fake_translation() -> None:
    a = ScriptedProvider("a", script=[TransientProviderError("a", "down")])
    [outcome] = await make_engine(a).translate(["Hello"], Options(target="fr"), CALLER)
    assert outcome.error is not None
    assert outcome.error.status_code == 503


async def test_unsupported_pair_is_reported_per_text() -> None:
    provider = ScriptedProvider(pairs={("en", "es")})
    [outcome] = await make_engine(provider).translate(["Hello"], Options(target="ja"), CALLER)
    assert outcome.error is not None and outcome.error.code == "unsupported_language_pair"
    assert provider.calls == []


@pytest.mark.redis
async def test_redis_tier_serves_a_fresh_process_and_outage_is_survived(
    redis_url: str, redis_server
) -> None:
    from redis.asyncio import Redis

    # Generous timeouts: a loaded machine must not look like an outage (the stopped server
    # below refuses connections at once).
    client = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        provider = ScriptedProvider()
        first = make_engine(
            provider, cache=TranslationCache(memory=MemoryLRU(100, 60), redis=client)
        )
        await first.translate(["Welcome aboard"], Options(target="es"), CALLER)
        await first.cache.drain()  # Redis is written right after the reply
        # Another replica (empty memory) finds it in Redis.
        second = make_engine(
            provider, cache=TranslationCache(memory=MemoryLRU(100, 60), redis=client)
        )
        [hit] = await second.translate(["Welcome aboard"], Options(target="es"), CALLER)
        assert hit.cached and len(provider.calls) == 1

        redis_server.stop()
        third = make_engine(
            provider, cache=TranslationCache(memory=MemoryLRU(100, 60), redis=client)
        )
        [during] = await third.translate(["Redis is gone"], Options(target="es"), CALLER)
        assert during.text == "[es] Redis is gone" and not during.cached
    finally:
        if redis_server.process is None:
            redis_server.start()
        await client.aclose()


async def test_cache_is_not_shared_between_workspaces() -> None:
    import uuid as _uuid

    provider = ScriptedProvider()
    engine = make_engine(provider)
    first = Caller(workspace_id=_uuid.uuid4())
    second = Caller(workspace_id=_uuid.uuid4())
    await engine.translate(["Quarterly numbers"], Options(target="es"), first)
    [other] = await engine.translate(["Quarterly numbers"], Options(target="es"), second)
    [again] = await engine.translate(["Quarterly numbers"], Options(target="es"), first)
    assert other.cached is False
    assert again.cached is True
    assert len(provider.calls) == 2


async def test_without_redis_the_database_tier_survives_a_restart(sqlite_settings) -> None:  # type: ignore[no-untyped-def]
    from service.db.models import Workspace
    from service.db.session import create_engine, session_factory

    db = create_engine(sqlite_settings.database_url)
    sessions = session_factory(db)
    async with sessions.begin() as session:
        session.add(Workspace(id=CALLER.workspace_id, name="restart"))
    try:
        provider = ScriptedProvider()
        before = make_engine(
            provider, cache=TranslationCache(memory=MemoryLRU(100, 60), sessions=sessions)
        )
        await before.translate(["Kept across restarts"], Options(target="es"), CALLER)
        await before.cache.drain()
        # A new process: empty memory, no Redis; the translation memory answers.
        after = make_engine(
            provider, cache=TranslationCache(memory=MemoryLRU(100, 60), sessions=sessions)
        )
        [again] = await after.translate(["Kept across restarts"], Options(target="es"), CALLER)
    finally:
        await db.dispose()
    assert again.cached is True
    assert again.text == "[es] Kept across restarts"
    assert len(provider.calls) == 1


@pytest.mark.redis
async def test_concurrent_redis_lookups_share_one_round_trip(redis_url: str) -> None:
    """A fan-out's lookups (one per target language) reach Redis as one MGET, and each still
    gets its own answer: hits for what another replica stored, misses for the rest."""
    from redis.asyncio import Redis

    from service.translation.cache import CachedTranslation

    client = Redis.from_url(redis_url)
    try:
        writer = TranslationCache(memory=MemoryLRU(100, 60), redis=client)
        for target in ("es", "fr"):
            writer.set(
                f"k-{target}",
                CachedTranslation(text=f"[{target}]", source="en", target=target, provider="p"),
            )
        await writer.drain()
        await client.config_resetstat()
        reader = TranslationCache(memory=MemoryLRU(100, 60), redis=client)
        targets = ["es", "fr", "de", "it", "pt"]
        found = await asyncio.gather(*(reader.get(f"k-{t}") for t in targets))
        assert [f.text if f else None for f in found] == ["[es]", "[fr]", None, None, None]
        stats = await client.info("commandstats")
        assert stats["cmdstat_mget"]["calls"] == 1
        assert "cmdstat_get" not in stats
    finally:
        await client.aclose()
