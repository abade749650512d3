"""The v1 translation API: translate, batch fan-out, detect and the language list."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from service.api.auth import principal_of
from service.api.context import caller_of
from service.api.errors import request_id_of
from service.api.schemas import (
    Alternative,
    BatchItem,
    BatchResponse,
    BatchTranslateRequest,
    ContextItem,
    Cost,
    Detection,
    DetectRequest,
    ItemError,
    Language,
    Languages,
    TranslateRequest,
    Translation,
)
from service.container import Services
from service.errors import ValidationFailed
from service.settings import Settings
from service.translation import languages
from service.translation.engine import Outcome
from service.translation.providers.base import ContextMessage

AnyRequest = Request[Any, Any, Any]


class TranslateController(Controller):
    path = "/"
    tags = ["translation"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/translate", status_code=200, summary="Translate one text")
    async def translate(
        self, request: AnyRequest, services: Services, data: JSONBody[TranslateRequest]
    ) -> Translation:
        admission = await services.translator.admit(caller_of(request, data.channel_id))
        settings = services.settings
        _check_text(data.text, "text", settings)
        _check_context(data.context, settings)
        options = await admission.options(
            target=languages.require(data.target_lang, "target_lang"),
            source=_source(data.source_lang),
            tier=data.quality_tier,
            formality=data.formality,
            provider=data.provider,
            context=_context(data.context),
        )
        [outcome] = await admission.translate([data.text], options)
        if outcome.error is not None:
            raise outcome.error
        return _translation(outcome, request_id_of(request))

    @post(
        "/translate/batch",
        status_code=200,
        summary="Translate many texts into one or more languages",
    )
    async def translate_batch(
        self, request: AnyRequest, services: Services, data: JSONBody[BatchTranslateRequest]
    ) -> BatchResponse:
        settings = services.settings
        translator = services.translator
        limits = settings.limits
        # Each text into each language counts against the rate limits (as many as a batch may
        # hold): one request of 50 texts into 10 languages is 500 translations, not 1.
        languages_asked = len(data.target_langs) if data.target_langs is not None else 1
        cost = max(1, min(len(data.texts), limits.max_batch_items)) * max(
            1, min(languages_asked, limits.max_target_langs)
        )
        admission = await translator.admit(caller_of(request, data.channel_id), cost=cost)
        if not data.texts:
            raise ValidationFailed("texts: give at least one text", details={"field": "texts"})
        if len(data.texts) > limits.max_batch_items:
            raise ValidationFailed(
                f"texts: at most {limits.max_batch_items} texts per batch, got {len(data.texts)}",
                code="too_many_items",
                details={"field": "texts", "max": limits.max_batch_items},
            )
        for i, text in enumerate(data.texts):
            _check_text(text, f"texts[{i}]", settings)
        if (data.target_lang is None) == (data.target_langs is None):
            raise ValidationFailed(
                "give exactly one of target_lang or target_langs", details={"field": "target_langs"}
            )
        targets = (
            [data.target_lang] if data.target_lang is not None else list(data.target_langs or [])
        )
        if not targets:
            raise ValidationFailed(
                "target_langs: give at least one language", details={"field": "target_langs"}
            )
        if len(targets) > limits.max_target_langs:
            raise ValidationFailed(
                f"target_langs: at most {limits.max_target_langs} languages, got {len(targets)}",
                code="too_many_items",
                details={"field": "target_langs", "max": limits.max_target_langs},
            )
        canonical_targets = list(
            dict.fromkeys(languages.require(t, "target_langs") for t in targets)
        )
        _check_context(data.context, settings)
        base = await admission.options(
            target=canonical_targets[0],
            source=_source(data.source_lang),
            tier=data.quality_tier,
            formality=data.formality,
            provider=data.provider,
            context=_context(data.context),
        )
        # Every target passes the channel's language lists before anything is translated.
        for target in canonical_targets[1:]:
            admission.check(target)
        engine = translator.engine
        # Detect each distinct text once for every target language.
        if base.source is None:
            detected = await asyncio.gather(
                *(
                    engine.detect(
                        t, candidates=base.candidates, author_language=base.author_language
                    )
                    for t in dict.fromkeys(data.texts)
                )
            )
            sources = dict(
                zip(dict.fromkeys(data.texts), (d.language for d in detected), strict=True)
            )
        else:
            sources = {}

        async def one_target(target: str) -> list[Outcome]:
            outcomes: list[Outcome] = []
            groups: dict[str | None, list[int]] = {}
            for i, text in enumerate(data.texts):
                groups.setdefault(sources.get(text, base.source), []).append(i)
            results: dict[int, Outcome] = {}

            async def by_source(source: str | None, indexes: list[int]) -> None:
                opts = dataclasses.replace(base, target=target, source=source)
                done = await admission.translate([data.texts[i] for i in indexes], opts)
                results.update(zip(indexes, done, strict=True))

            await asyncio.gather(*(by_source(s, ix) for s, ix in groups.items()))
            outcomes.extend(results[i] for i in range(len(data.texts)))
            return outcomes

        per_target = await asyncio.gather(*(one_target(t) for t in canonical_targets))
        items = [
            _batch_item(i, outcome) for outcomes in per_target for i, outcome in enumerate(outcomes)
        ]
        return BatchResponse(translations=items, request_id=request_id_of(request))

    @post("/detect", status_code=200, summary="Detect the language of a text")
    async def detect(
        self, request: AnyRequest, services: Services, data: JSONBody[DetectRequest]
    ) -> Detection:
        translator = services.translator
        caller = caller_of(request)
        await translator.limit(caller)
        _check_text(data.text, "text", services.settings)
        result = await translator.detect(caller, data.text)
        return Detection(
            language=result.language,
            confidence=round(result.confidence, 4),
            alternatives=[
                Alternative(language=lang, confidence=round(conf, 4))
                for lang, conf in result.alternatives
            ],
        )

    @get("/languages", summary="Languages and the providers that serve them")
    async def list_languages(self, request: AnyRequest, services: Services) -> Languages:
        translator = services.translator
        routing = await translator.routing(principal_of(request).workspace_id)
        served: dict[str, list[str]] = {}
        for provider in (routing.router or translator.engine.router).providers:
            for code in provider.languages():
                served.setdefault(code, []).append(provider.name)
        return Languages(
            languages=[
                Language(code=code, name=languages.name(code), providers=served[code])
                for code in sorted(served)
            ]
        )


def _check_text(text: str, field: str, settings: Settings) -> None:
    if not text.strip():
        raise ValidationFailed(
            f"{field}: must not be empty", code="empty_text", details={"field": field}
        )
    limit = settings.limits.max_text_chars
    if len(text) > limit:
        raise ValidationFailed(
            f"{field}: {len(text)} characters, the limit is {limit}",
            code="text_too_long",
            details={"field": field, "max": limit},
        )


def _check_context(context: list[ContextItem], settings: Settings) -> None:
    limit = settings.limits.max_context_messages
    if len(context) > limit:
        raise ValidationFailed(
            f"context: at most {limit} messages",
            code="too_many_items",
            details={"field": "context"},
        )
    context_chars = sum(len(c.text) + len(c.author or "") for c in context)
    most = settings.limits.max_context_chars
    if context_chars > most:
        raise ValidationFailed(
            f"context: {context_chars} characters, the limit is {most}",
            code="text_too_long",
            details={"field": "context", "max": most},
        )


def _source(source: str) -> str | None:
    """The canonical source language, or None for `auto` (detect)."""
    if source.strip().lower() == "auto":
        return None
    return languages.require(source, "source_lang")


def _context(context: list[ContextItem]) -> tuple[ContextMessage, ...]:
    return tuple(ContextMessage(text=c.text, author=c.author) for c in context)


def _cost(outcome: Outcome) -> Cost:
    return Cost(
        amount=float(outcome.cost.quantize(Decimal("0.00000001"))),
        currency="USD",
        characters=outcome.characters,
        tokens=outcome.input_tokens + outcome.output_tokens,
    )


def _translation(outcome: Outcome, request_id: str | None) -> Translation:
    return Translation(
        translated_text=outcome.text,
        source_lang=outcome.source,
        target_lang=outcome.target,
        provider=outcome.provider,
        model=outcome.model,
        cached=outcome.cached,
        untranslated=outcome.untranslated,
        cost=_cost(outcome),
        request_id=request_id,
        pivot=list(outcome.pivot),
    )


def _batch_item(index: int, outcome: Outcome) -> BatchItem:
    if outcome.error is not None:
        return BatchItem(
            text_index=index,
            target_lang=outcome.target,
            source_lang=outcome.source,
            error=ItemError(code=outcome.error.code, message=outcome.error.message),
        )
    return BatchItem(
        text_index=index,
        target_lang=outcome.target,
        translated_text=outcome.text,
        source_lang=outcome.source,
        provider=outcome.provider,
        model=outcome.model,
        cached=outcome.cached,
        untranslated=outcome.untranslated,
        cost=_cost(outcome),
        pivot=list(outcome.pivot),
    )
