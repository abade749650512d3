"""An in-process translation provider whose behaviour each test scripts.

It stands in for a third-party engine when the engine, router or API is what is under test;
the real providers have their own tests against wire-format fakes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from service.translation.providers.base import (
    Capabilities,
    Provider,
    ProviderInfo,
    Tier,
    TranslationRequest,
    TranslationResult,
)

Behaviour = Callable[[TranslationRequest], TranslationResult | BaseException | None]


class ScriptedProvider(Provider):
    """Translates by tagging each text `[<target>] text`, unless a scripted step says otherwise.

    `script` is consumed one entry per call: an exception to raise, a function of the request
    returning a result or exception, or None for the default behaviour. When the script is
    exhausted, every call behaves by default.
    """

    def __init__(
        self,
        name: str = "scripted",
        *,
        tier: Tier = Tier.BALANCED,
        pairs: set[tuple[str, str]] | None = None,
        delay: float = 0.0,
        script: list[BaseException | Behaviour | None] | None = None,
        price_per_million_chars: Decimal = Decimal(20),
        max_batch: int = 50,
    ) -> None:
        self.info = ProviderInfo(
            name=name,
            tier=tier,
            price_per_million_chars=price_per_million_chars,
            capabilities=Capabilities(max_batch=max_batch, formality=True, context=True),
        )
        self.pairs = pairs
        self.delay = delay
        self.script = list(script or [])
        self.calls: list[TranslationRequest] = []

    async def translate(self, request: TranslationRequest) -> TranslationResult:
        self.calls.append(request)
        step = self.script.pop(0) if self.script else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            outcome = step(request)
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome is not None:
                return outcome
        return TranslationResult(
            texts=tuple(f"[{request.target}] {t}" for t in request.texts),
            model=f"{self.name}-1",
            characters=request.characters,
            cost=self.info.price_per_million_chars * request.characters / Decimal(1_000_000),
        )

    def supports(self, source: str, target: str) -> bool:
        return self.pairs is None or (source, target) in self.pairs

    def languages(self) -> frozenset[str]:
        if self.pairs is None:
            return frozenset({"en", "es", "fr", "de", "pt", "ca", "it"})
        return frozenset(code for pair in self.pairs for code in pair)


class FixedDetector:
    """Detects by a table of known texts, else a default language; for engine tests only."""

    def __init__(self, default: str = "en", table: dict[str, str] | None = None) -> None:
        self.default = default
        self.table = table or {}
        self.calls = 0

    def detect(
        self,
        text: str,
        *,
        candidates: frozenset[str] | None = None,
        author_language: str | None = None,
    ):  # type: ignore[no-untyped-def]
        from dataclasses import dataclass

        @dataclass
        class Result:
            language: str
            confidence: float
            alternatives: list[tuple[str, float]]

        self.calls += 1
        return Result(self.table.get(text, self.default), 0.99, [])
