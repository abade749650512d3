"""The translation hot path (see docs/architecture.md, "One translation, request to response"):

normalise -> detect source (skip if same language) -> protect markup -> cache key ->
cache (memory -> Redis -> database) -> single-flight -> router (strategy + breakers) ->
provider (timeout, transient retries) -> fallback -> verify sentinels -> restore markup ->
cache store -> usage event.

`translate()` takes a batch of texts for one target language: misses that share a source
language go to a provider in one call, each text is cached on its own, and identical texts in
flight anywhere in the process are computed once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from service.clock import SYSTEM_CLOCK, Clock
from service.errors import (
    BudgetExceeded,
    ServiceError,
    TranslationUnavailable,
    UnsupportedPair,
    ValidationFailed,
)
from service.events import Event
from service.observability import metrics
from service.translation import languages, markup, shorthand
from service.translation.cache import CachedTranslation, TranslationCache, cache_key
from service.translation.glossary import GlossarySnapshot
from service.translation.providers.base import (
    ContextMessage,
    Provider,
    ProviderError,
    TranslationRequest,
    TranslationResult,
)
from service.translation.router import Router
from service.translation.singleflight import SingleFlight, wait

log = logging.getLogger(__name__)
_LONG_TEXT = 2_000
UNDETERMINED = "und"  # detect texts longer than this off the event loop


class DetectionLike(Protocol):
    @property
    def language(self) -> str: ...  # a canonical code, or "und" when nothing is detectable

    @property
    def confidence(self) -> float: ...

    @property
    def alternatives(self) -> list[tuple[str, float]]: ...


class UsageSink(Protocol):
    """Where usage events go (usage/recorder.py's `UsageRecorder`)."""

    def record(self, event: Event) -> None:
        """Keep one event; it is durable once `recorded()` returns."""

    async def recorded(self) -> None:
        """Wait until the events recorded so far are stored."""


class SpendGuard(Protocol):
    """Budget enforcement around each paid provider call (see usage/budgets)."""

    async def reserve(self, provider: Provider, estimate: Decimal) -> object:
        """Hold `estimate` against the budget, or raise `BudgetExceeded` without holding."""

    async def settle(self, reservation: object, actual: Decimal) -> None:
        """Replace the held estimate by what the call actually cost (0 if it failed)."""


class Detector(Protocol):
    def detect(
        self,
        text: str,
        *,
        candidates: frozenset[str] | None = None,
        author_language: str | None = None,
    ) -> DetectionLike: ...


@dataclass(frozen=True, slots=True)
class Options:
    target: str
    source: str | None = None  # None: detect
    strategy: str = "balanced"
    formality: str | None = None
    context: tuple[ContextMessage, ...] = ()
    provider: str | None = None
    author_language: str | None = None
    candidates: frozenset[str] | None = None
    # Detect once on all texts together (LibreTranslate arrays are lines of one message).
    shared_detection: bool = False
    glossary: GlossarySnapshot | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    workspace_id: uuid.UUID
    api_key_id: uuid.UUID | None = None
    user_id: str | None = None
    channel_id: str | None = None


@dataclass(slots=True)
class Outcome:
    text: str
    source: str
    target: str
    provider: str | None = None
    model: str | None = None
    cached: bool = False
    untranslated: bool = False
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    pivot: tuple[str, ...] = ()
    detected_confidence: float | None = None
    error: ServiceError | None = None


@dataclass(slots=True)
class _Pending:
    index: int
    text: str
    # Markup and do-not-translate terms swapped for sentinels: for engines that take glossaries.
    protected: markup.Protected
    # ... and glossary terms too, restored as their translations: for engines that do not.
    substituted: markup.Protected
    source: str
    key: str
    workspace_id: uuid.UUID | None = None
    outcome: Outcome | None = None

    def variant(self, provider: Provider) -> markup.Protected:
        return self.protected if provider.info.capabilities.glossary else self.substituted


# What a leader hands its followers: a translation, or None when it had to stay untranslated.
_Flight = CachedTranslation | None


class Engine:
    def __init__(
        self,
        *,
        router: Router,
        cache: TranslationCache,
        detector: Detector,
        usage: UsageSink | None,
        request_timeout: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.router = router
        self.cache = cache
        self.detector = detector
        self.usage = usage
        self.request_timeout = request_timeout
        self.clock = clock  # stamps usage events: the day and month they are counted in
        self._flights: SingleFlight[_Flight] = SingleFlight()
        self._detections: OrderedDict[
            tuple[str, frozenset[str] | None, str | None], tuple[str, float]
        ] = OrderedDict()

    @property
    def providers(self) -> list[Provider]:
        return self.router.providers

    # -- detection -----------------------------------------------------------------------

    async def detect(
        self,
        text: str,
        *,
        candidates: frozenset[str] | None = None,
        author_language: str | None = None,
    ) -> DetectionLike:
        if len(text) > _LONG_TEXT:
            return await asyncio.to_thread(
                self.detector.detect, text, candidates=candidates, author_language=author_language
            )
        return self.detector.detect(text, candidates=candidates, author_language=author_language)

    async def _source_of(self, text: str, options: Options) -> tuple[str, float | None]:
        if options.source is not None:
            return options.source, None
        memo_key = (text, options.candidates, options.author_language)
        hit = self._detections.get(memo_key)
        if hit is not None:
            self._detections.move_to_end(memo_key)
            return hit
        result = await self.detect(
            text, candidates=options.candidates, author_language=options.author_language
        )
        value = (result.language, result.confidence)
        self._detections[memo_key] = value
        if len(self._detections) > 20_000:
            self._detections.popitem(last=False)
        return value

    # -- translation ---------------------------------------------------------------------

    async def translate(
        self,
        texts: Sequence[str],
        options: Options,
        caller: Caller,
        *,
        router: Router | None = None,
        spend: SpendGuard | None = None,
    ) -> list[Outcome]:
        """Translate `texts` into `options.target`; one Outcome per text, in order.

        `router` replaces the server's providers (a workspace that brings its own keys);
        `spend` enforces budgets around every paid call. Per-text failures are reported in
        `Outcome.error`; the call itself raises only for problems of the whole request (an
        unknown pinned provider).
        """
        router = router or self.router
        if options.provider is not None and options.provider not in router.by_name:
            raise ValidationFailed(
                f"provider {options.provider!r} is not enabled here",
                code="unknown_provider",
                details={"enabled": sorted(router.by_name)},
            )
        started = time.perf_counter()
        deadline = time.monotonic() + self.request_timeout
        normalized = [unicodedata.normalize("NFC", t) for t in texts]
        outcomes: list[Outcome | None] = [None] * len(normalized)

        shared: tuple[str, float | None] | None = None
        if options.shared_detection and options.source is None:
            shared = await self._source_of("\n".join(normalized), options)

        pending: list[_Pending] = []
        for i, text in enumerate(normalized):
            source, confidence = shared or await self._source_of(text, options)
            if source == UNDETERMINED or languages.same_language(source, options.target):
                # Nothing language-like to translate (numbers, a lone emoji), or no need.
                outcomes[i] = Outcome(
                    text=text,
                    source=source,
                    target=options.target,
                    characters=len(text),
                    detected_confidence=confidence,
                )
                continue
            glossary = options.glossary
            keep = glossary.keep(source) if glossary else {}
            pairs = glossary.pairs(source, options.target) if glossary else ()
            protected = markup.protect(text, keep)
            substituted = (
                markup.protect(text, keep | {e.source: e.target for e in pairs})
                if pairs
                else protected
            )
            if not protected.has_words or shorthand.languageless(protected.text):
                # Only markup, or only `lgtm` / `+1` / `PROJ-123`: nothing to translate.
                outcomes[i] = Outcome(
                    text=text,
                    source=source,
                    target=options.target,
                    characters=len(text),
                    detected_confidence=confidence,
                )
                continue
            if not router.supporting(source, options.target):
                outcomes[i] = Outcome(
                    text=text,
                    source=source,
                    target=options.target,
                    detected_confidence=confidence,
                    error=UnsupportedPair(
                        f"no enabled provider translates {source} -> {options.target}",
                        details={"source_lang": source, "target_lang": options.target},
                    ),
                )
                continue
            key = cache_key(
                text,
                source=source,
                target=options.target,
                tier=options.strategy,
                formality=options.formality,
                context=[c.text for c in options.context],
                provider=options.provider,
                glossary=glossary.tag if glossary else "",
                scope=str(caller.workspace_id),
            )
            pending.append(
                _Pending(i, text, protected, substituted, source, key, caller.workspace_id)
            )
            pending[-1].outcome = Outcome(
                text=text, source=source, target=options.target, detected_confidence=confidence
            )

        await self._resolve(pending, options, deadline, router, spend)
        for item in pending:
            outcomes[item.index] = item.outcome

        final = [o for o in outcomes if o is not None]
        self._account(final, caller, time.perf_counter() - started)
        if self.usage is not None:
            await self.usage.recorded()  # the events are on disk before anyone sees a result
        return final

    async def _resolve(
        self,
        pending: list[_Pending],
        options: Options,
        deadline: float,
        router: Router,
        spend: SpendGuard | None,
    ) -> None:
        if not pending:
            return
        # Memory first, without a task per lookup (the hot path of repeated messages); the
        # rest run concurrently: with Redis each one is a network round trip.
        found: list[CachedTranslation | None] = [self.cache.peek(p.key) for p in pending]
        slow = [i for i, hit in enumerate(found) if hit is None]
        if slow:
            looked_up = await asyncio.gather(*(self.cache.lookup(pending[i].key) for i in slow))
            for i, hit in zip(slow, looked_up, strict=True):
                found[i] = hit
        leaders: list[_Pending] = []
        followers: list[tuple[_Pending, asyncio.Future[_Flight]]] = []
        for item, hit in zip(pending, found, strict=True):
            # A leader may have finished while this lookup awaited Redis or the database: its
            # result is in memory before its flight ends (see `_lead`), and nothing awaits
            # between this check and the claim, so the same text is never translated twice.
            hit = hit or self.cache.memory.get(item.key)
            if hit is not None:
                _apply(item, hit, cached=True)
                continue
            future, leader = self._flights.claim(item.key)
            if leader:
                leaders.append(item)
            else:
                followers.append((item, future))

        if leaders:
            by_source: dict[str, list[_Pending]] = {}
            for item in leaders:
                by_source.setdefault(item.source, []).append(item)
            await asyncio.gather(
                *(
                    self._lead(group, options, deadline, router, spend)
                    for group in by_source.values()
                )
            )
        for item, future in followers:
            try:
                flight = await wait(future)
            except ServiceError as exc:
                assert item.outcome is not None
                item.outcome.error = exc
                continue
            if flight is None:
                _untranslated(item)
            else:
                # Computed for someone else a moment ago: a cache hit for this request.
                _apply(item, flight, cached=True)

    async def _lead(
        self,
        group: list[_Pending],
        options: Options,
        deadline: float,
        router: Router,
        spend: SpendGuard | None,
    ) -> None:
        """Translate the leaders of one source language, then settle their flights."""
        try:
            results = await self._call_providers(group, options, deadline, router, spend)
        except ServiceError as exc:
            for item in group:
                assert item.outcome is not None
                item.outcome.error = exc
                self._flights.fail(item.key, exc)
            return
        except BaseException as exc:
            for item in group:
                self._flights.fail(item.key, exc)
            raise
        for item in group:
            flight = results.get(item.index)
            if flight is None:
                _untranslated(item)
            else:
                _apply(item, flight, cached=False)
                # In memory before the flight ends: a lookup that missed while it flew finds it.
                self.cache.set(item.key, flight, workspace_id=item.workspace_id)
            self._flights.resolve(item.key, flight)

    async def _call_providers(
        self,
        group: list[_Pending],
        options: Options,
        deadline: float,
        router: Router,
        spend: SpendGuard | None,
    ) -> dict[int, CachedTranslation]:
        source, target = group[0].source, options.target
        plan = router.plan(source, target, options.strategy, pinned=options.provider)
        if not plan:
            raise TranslationUnavailable(
                f"every provider for {source} -> {target} is temporarily unavailable",
                headers={"Retry-After": "30"},
            )
        done: dict[int, CachedTranslation] = {}
        remaining = list(group)
        errors: list[str] = []
        over_budget: BudgetExceeded | None = None
        for provider in plan:
            if not remaining:
                break
            try:
                results = await self._call_one(
                    provider, remaining, source, options, deadline, router, spend
                )
            except ProviderError as exc:
                errors.append(str(exc))
                continue
            except BudgetExceeded as exc:
                # Too dear for what is left of the budget: a cheaper provider may still fit.
                over_budget = exc
                continue
            lost: list[_Pending] = []
            for item, (text, share) in zip(remaining, results, strict=True):
                restored = markup.restore(text, item.variant(provider).tokens)
                if restored is None:
                    metrics.PROVIDER_ERRORS.labels(provider=provider.name, kind="markup").inc()
                    lost.append(item)
                    continue
                done[item.index] = CachedTranslation(
                    text=restored,
                    source=source,
                    target=target,
                    provider=provider.name,
                    model=share.model,
                    characters=share.characters,
                    input_tokens=share.input_tokens,
                    output_tokens=share.output_tokens,
                    cost=str(share.cost),
                    pivot=share.pivot,
                )
            if lost:
                log.info(
                    "provider %s lost markup in %d text(s); trying the next",
                    provider.name,
                    len(lost),
                )
            remaining = lost
        if over_budget is not None and len(remaining) == len(group):
            raise over_budget
        if remaining and errors and len(remaining) == len(group):
            # Nobody answered at all (as opposed to answering with broken markup).
            raise TranslationUnavailable(
                f"no provider could translate {source} -> {target} right now",
                details={"attempts": errors},
                headers={"Retry-After": "5"},
            )
        return done

    async def _call_one(
        self,
        provider: Provider,
        items: list[_Pending],
        source: str,
        options: Options,
        deadline: float,
        router: Router,
        spend: SpendGuard | None,
    ) -> list[tuple[str, TranslationResult]]:
        """One provider, all items, split into chunks the provider accepts; per-item shares."""
        caps = provider.info.capabilities
        snapshot = options.glossary if caps.glossary else None
        glossary = snapshot.pairs(source, options.target) if snapshot is not None else ()
        chunks: list[list[_Pending]] = [[]]
        size = 0
        for item in items:
            length = len(item.variant(provider).text)
            if chunks[-1] and (
                len(chunks[-1]) >= caps.max_batch or size + length > caps.max_characters
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(item)
            size += length

        async def run(chunk: list[_Pending]) -> list[tuple[str, TranslationResult]]:
            request = TranslationRequest(
                texts=tuple(i.variant(provider).text for i in chunk),
                source=source,
                target=options.target,
                formality=options.formality if caps.formality else None,
                context=options.context if caps.context else (),
                glossary=glossary,
                glossary_scope=snapshot.scope if snapshot is not None else "",
                glossary_version=snapshot.version if snapshot is not None else 0,
            )
            # Context goes to the provider with the texts: it is priced in the estimate too.
            estimate = provider.estimate_cost(_billable(request))
            if spend is None:
                result = _sane(
                    provider.name, await router.call(provider, request, deadline=deadline), request
                )
            else:
                held = await spend.reserve(provider, estimate)
                actual = Decimal(0)
                try:
                    result = _sane(
                        provider.name,
                        await router.call(provider, request, deadline=deadline),
                        request,
                        estimate,
                    )
                    actual = result.cost
                finally:
                    await spend.settle(held, actual)
            if len(result.texts) != len(chunk):
                raise ProviderError(provider.name, "returned a different number of texts")
            return _shares(request, result)

        parts = await asyncio.gather(*(run(c) for c in chunks))
        return [pair for part in parts for pair in part]

    # -- accounting ----------------------------------------------------------------------

    def _account(self, outcomes: list[Outcome], caller: Caller, seconds: float) -> None:
        latency_ms = seconds * 1000
        for o in outcomes:
            outcome = (
                "error"
                if o.error is not None
                else "untranslated"
                if o.untranslated
                else "cached"
                if o.cached
                else "same_language"
                if o.provider is None
                else "translated"
            )
            _translations(o.provider or "none", outcome, o.source, o.target).inc()
            if o.provider is not None and not o.cached and o.error is None:
                metrics.TRANSLATION_COST.labels(provider=o.provider).inc(float(o.cost))
                metrics.TRANSLATION_CHARACTERS.labels(provider=o.provider).inc(o.characters)
            if self.usage is None:
                continue
            self.usage.record(
                Event(
                    workspace_id=caller.workspace_id,
                    api_key_id=caller.api_key_id,
                    user_id=caller.user_id,
                    channel_id=caller.channel_id,
                    provider=o.provider,
                    model=o.model,
                    source_lang=o.source,
                    target_lang=o.target,
                    characters=o.characters,
                    input_tokens=0 if o.cached else o.input_tokens,
                    output_tokens=0 if o.cached else o.output_tokens,
                    cost=Decimal(0) if o.cached else o.cost,
                    latency_ms=latency_ms,
                    cache_hit=o.cached,
                    outcome=outcome,
                    created_at=self.clock.now(),
                )
            )


@functools.lru_cache(maxsize=4096)
def _translations(provider: str, outcome: str, source: str, target: str) -> Any:
    """The counter child of one label set, looked up once (bounded: enabled providers and
    supported languages)."""
    return metrics.TRANSLATIONS.labels(
        provider=provider, outcome=outcome, source=source, target=target
    )


def _apply(item: _Pending, flight: CachedTranslation, *, cached: bool) -> None:
    assert item.outcome is not None
    o = item.outcome
    o.text = flight.text
    o.provider = flight.provider
    o.model = flight.model
    o.cached = cached
    # A cache hit bills nothing: it counts the characters the reader got translated.
    o.characters = len(item.text) if cached else flight.characters
    o.input_tokens = flight.input_tokens
    o.output_tokens = flight.output_tokens
    o.cost = Decimal(0) if cached else Decimal(flight.cost)
    o.pivot = flight.pivot


def _untranslated(item: _Pending) -> None:
    assert item.outcome is not None
    item.outcome.text = item.text
    item.outcome.untranslated = True


def _billable(request: TranslationRequest) -> int:
    """Characters a provider is sent for `request`: the texts and any context."""
    return request.characters + sum(len(c.text) + len(c.author or "") for c in request.context)


# A call may cost more than its estimate (an LLM answering at length), but not this many times.
_MAX_COST_OVER_ESTIMATE = 20


def _sane(
    provider: str,
    result: TranslationResult,
    request: TranslationRequest,
    estimate: Decimal | None = None,
) -> TranslationResult:
    """The provider's own figures (billed characters, tokens, cost) clamped to what the request
    can have used: a negative or absurd figure from a misbehaving server (or a workspace's own
    base_url) must not make a budget's `spent` negative or exhaust it in one call."""
    billable = _billable(request)
    characters = min(max(result.characters, 0), 2 * billable)
    token_cap = 2 * billable + 8192  # the prompt's instructions and glossary come on top
    input_tokens = min(max(result.input_tokens, 0), token_cap)
    output_tokens = min(max(result.output_tokens, 0), token_cap)
    cost = result.cost if result.cost.is_finite() else Decimal(0)
    cost = max(cost, Decimal(0))
    if estimate is not None and estimate > 0:
        cost = min(cost, estimate * _MAX_COST_OVER_ESTIMATE)
    clamped = (characters, input_tokens, output_tokens, cost)
    if clamped == (result.characters, result.input_tokens, result.output_tokens, result.cost):
        return result
    log.warning("provider %s reported implausible usage figures; clamped", provider)
    return dataclasses.replace(
        result,
        characters=characters,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost=cost,
    )


def _shares(
    request: TranslationRequest, result: TranslationResult
) -> list[tuple[str, TranslationResult]]:
    """Split a batch result's characters, tokens and cost over its texts by length."""
    total = max(1, request.characters)
    billed = result.characters or request.characters
    out = []
    for source_text, text in zip(request.texts, result.texts, strict=True):
        weight = Decimal(len(source_text)) / total
        out.append(
            (
                text,
                TranslationResult(
                    texts=(text,),
                    model=result.model,
                    characters=round(billed * len(source_text) / total),
                    input_tokens=round(result.input_tokens * len(source_text) / total),
                    output_tokens=round(result.output_tokens * len(source_text) / total),
                    cost=(result.cost * weight).quantize(Decimal("0.00000001")),
                    pivot=result.pivot,
                ),
            )
        )
    return out
