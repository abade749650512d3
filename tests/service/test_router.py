"""Router: strategy order, retries, breaker open/half-open/close, terminal vs transient errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.translation.providers.base import (
    TerminalProviderError,
    Tier,
    TransientProviderError,
    TranslationRequest,
)
from service.translation.router import BreakerState, Router
from tests.service.scripted import ScriptedProvider

REQUEST = TranslationRequest(texts=("Hello",), source="en", target="es")


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_strategies_order_providers_by_tier_then_configured_order() -> None:
    free = ScriptedProvider("apertium", tier=Tier.ECONOMY)
    mid = ScriptedProvider("google", tier=Tier.BALANCED)
    top_a = ScriptedProvider("deepl", tier=Tier.PREMIUM)
    top_b = ScriptedProvider("openai", tier=Tier.PREMIUM)
    router = Router([free, top_b, mid, top_a], order=["deepl", "openai", "google", "apertium"])
    names = lambda s: [p.name for p in router.plan("en", "es", s)]  # noqa: E731
    assert names("economy") == ["apertium", "google", "deepl", "openai"]
    assert names("balanced") == ["google", "deepl", "openai", "apertium"]
    assert names("premium") == ["deepl", "openai", "google", "apertium"]


def test_plan_skips_providers_without_the_pair_and_honours_a_pin() -> None:
    es_only = ScriptedProvider("es_only", pairs={("en", "es")})
    anything = ScriptedProvider("anything")
    router = Router([es_only, anything])
    assert [p.name for p in router.plan("en", "fr", "balanced")] == ["anything"]
    assert [p.name for p in router.plan("en", "es", "balanced", pinned="es_only")] == ["es_only"]
    assert router.plan("en", "fr", "balanced", pinned="es_only") == []


async def test_transient_errors_are_retried_honouring_retry_after() -> None:
    provider = ScriptedProvider(
        script=[TransientProviderError("scripted", "429", status=429, retry_after=0.05), None]
    )
    router = Router([provider], max_retries=2, backoff_base=0.0)
    started = time.monotonic()
    result = await router.call(provider, REQUEST, deadline=deadline())
    assert result.texts == ("[es] Hello",)
    assert len(provider.calls) == 2
    assert time.monotonic() - started >= 0.05


async def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    provider = ScriptedProvider(script=[TransientProviderError("scripted", "429", retry_after=60)])
    router = Router([provider], max_retries=3)
    with pytest.raises(TransientProviderError):
        await router.call(provider, REQUEST, deadline=deadline(1.0))
    assert len(provider.calls) == 1


async def test_terminal_error_parks_the_provider_without_retry() -> None:
    provider = ScriptedProvider(
        script=[TerminalProviderError("scripted", "456 quota", unavailable_for=60)]
    )
    router = Router([provider], max_retries=3)
    with pytest.raises(TerminalProviderError):
        await router.call(provider, REQUEST, deadline=deadline())
    assert len(provider.calls) == 1
    assert router.state("scripted") is BreakerState.PARKED
    assert router.plan("en", "es", "balanced") == []


async def test_timeout_is_transient() -> None:
    provider = ScriptedProvider(delay=1.0)
    router = Router([provider], timeout=0.05, max_retries=0)
    with pytest.raises(TransientProviderError) as info:
        await router.call(provider, REQUEST, deadline=deadline())
    assert info.value.timeout


async def test_a_provider_with_its_own_timeout_gets_it() -> None:
    provider = ScriptedProvider(delay=0.2)
    provider.call_timeout = 1.0  # an LLM: longer than the router's MT timeout
    router = Router([provider], timeout=0.05, max_retries=0)
    result = await router.call(provider, REQUEST, deadline=deadline())
    assert result.texts == ("[es] Hello",)


def test_backoff_follows_the_vendor_sdks() -> None:
    # openai/anthropic SDKs: 0.5 s doubling up to 8 s, minus up to 25 % jitter.
    router = Router([])
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0), (9, 8.0)]:
        delays = [router._backoff(attempt, None) for _ in range(50)]
        assert all(0.75 * ceiling <= d <= ceiling for d in delays)
    assert router._backoff(1, 3.0) == 3.0


async def test_breaker_opens_half_opens_and_closes() -> None:
    failures = [TransientProviderError("scripted", "503") for _ in range(3)]
    provider = ScriptedProvider(script=[*failures])
    router = Router([provider], max_retries=0, breaker_threshold=3, breaker_cooldown=0.1)
    for _ in range(3):
        with pytest.raises(TransientProviderError):
            await router.call(provider, REQUEST, deadline=deadline())
    assert router.state("scripted") is BreakerState.OPEN
    assert router.plan("en", "es", "balanced") == []

    await asyncio.sleep(0.12)
    assert router.state("scripted") is BreakerState.HALF_OPEN
    assert [p.name for p in router.plan("en", "es", "balanced")] == ["scripted"]
    await router.call(provider, REQUEST, deadline=deadline())  # the probe succeeds
    assert router.state("scripted") is BreakerState.CLOSED


async def test_failed_probe_reopens_the_breaker() -> None:
    provider = ScriptedProvider(
        script=[TransientProviderError("scripted", "503") for _ in range(2)]
    )
    router = Router([provider], max_retries=0, breaker_threshold=1, breaker_cooldown=0.05)
    with pytest.raises(TransientProviderError):
        await router.call(provider, REQUEST, deadline=deadline())
    await asyncio.sleep(0.06)
    with pytest.raises(TransientProviderError):
        await router.call(provider, REQUEST, deadline=deadline())
    assert router.state("scripted") is BreakerState.OPEN
