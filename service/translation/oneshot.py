"""Translate one text with the full engine but no server: used by `utp translate`."""

from __future__ import annotations

import contextlib
import uuid

from service.errors import ValidationFailed
from service.outbound import OutboundClient
from service.settings import Settings
from service.translation import languages
from service.translation.cache import MemoryLRU, TranslationCache
from service.translation.engine import Caller, Engine, Options, Outcome
from service.translation.router import Router


async def translate_once(
    settings: Settings,
    text: str,
    *,
    target: str,
    source: str = "auto",
    tier: str | None = None,
    provider: str | None = None,
) -> Outcome:
    from service.translation.detection import LanguageDetector
    from service.translation.providers.registry import build_providers

    if not text.strip():
        raise ValidationFailed("text must not be empty")
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            OutboundClient(settings.providers.provider_timeout_seconds)
        )
        providers = build_providers(settings.providers, client)
        for p in providers:
            await p.start()
            stack.push_async_callback(p.aclose)
        engine = Engine(
            router=Router(
                providers,
                order=settings.providers.provider_order,
                timeout=settings.providers.provider_timeout_seconds,
                max_retries=settings.providers.provider_max_retries,
            ),
            cache=TranslationCache(memory=MemoryLRU(0, 0)),
            detector=LanguageDetector.from_settings(settings.detection),
            usage=None,
            request_timeout=settings.limits.request_timeout_seconds,
        )
        options = Options(
            target=languages.require(target, "--to"),
            source=None if source == "auto" else languages.require(source, "--from"),
            strategy=tier or settings.providers.default_quality_tier,
            provider=provider,
        )
        [outcome] = await engine.translate([text], options, Caller(workspace_id=uuid.UUID(int=0)))
        if outcome.error is not None:
            raise outcome.error
        return outcome
