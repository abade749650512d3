"""Provider routing: which providers to try in which order, and how to call one safely.

Strategies order the providers that support a pair:
- `economy`: cheapest tier first (the offline engine before paid APIs);
- `balanced`: the balanced tier first, then premium, then economy;
- `premium`: best tier first.
Ties keep the configured `UTP_PROVIDER_ORDER`.

Each provider has a circuit breaker: after `threshold` consecutive transient failures it opens
for `cooldown` seconds, then lets one probe through (half-open); success closes it. A terminal
error (bad key, exhausted quota) parks the provider for the time the error names.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from service.observability import metrics
from service.translation.providers.base import (
    Provider,
    RequestRejected,
    TerminalProviderError,
    Tier,
    TransientProviderError,
    TranslationRequest,
    TranslationResult,
)

log = logging.getLogger(__name__)

STRATEGIES = ("economy", "balanced", "premium")
_RANK = {
    "economy": {Tier.ECONOMY: 0, Tier.BALANCED: 1, Tier.PREMIUM: 2},
    "balanced": {Tier.BALANCED: 0, Tier.PREMIUM: 1, Tier.ECONOMY: 2},
    "premium": {Tier.PREMIUM: 0, Tier.BALANCED: 1, Tier.ECONOMY: 2},
}


class BreakerState(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2
    PARKED = 3


@dataclass
class Breaker:
    threshold: int
    cooldown: float
    failures: int = 0
    opened_at: float | None = None
    parked_until: float = 0.0
    probing: bool = False

    def state(self, now: float) -> BreakerState:
        if now < self.parked_until:
            return BreakerState.PARKED
        if self.opened_at is None:
            return BreakerState.CLOSED
        if now - self.opened_at < self.cooldown:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allows(self, now: float) -> bool:
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.HALF_OPEN and not self.probing

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def transient_failure(self, now: float) -> None:
        self.probing = False
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = now

    def park(self, now: float, seconds: float) -> None:
        self.probing = False
        self.parked_until = now + seconds


class Router:
    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        order: Sequence[str] = (),
        timeout: float = 10.0,
        max_retries: int = 2,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        # The vendors' SDKs (openai, anthropic) wait 0.5 s, 1 s, 2 s ... up to 8 s between tries.
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        position = {name: i for i, name in enumerate(order)}
        self.providers = sorted(providers, key=lambda p: position.get(p.name, len(position)))
        self.by_name = {p.name: p for p in self.providers}
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.breakers = {
            p.name: Breaker(threshold=breaker_threshold, cooldown=breaker_cooldown)
            for p in self.providers
        }
        for p in self.providers:
            metrics.BREAKER_STATE.labels(provider=p.name).set(0)

    def supporting(self, source: str, target: str) -> list[Provider]:
        return [p for p in self.providers if p.supports(source, target)]

    def plan(
        self, source: str, target: str, strategy: str, *, pinned: str | None = None
    ) -> list[Provider]:
        """Providers to try for this pair, in order, skipping open breakers and parked ones."""
        now = time.monotonic()
        if pinned is not None:
            candidates = [self.by_name[pinned]] if pinned in self.by_name else []
            candidates = [p for p in candidates if p.supports(source, target)]
        else:
            rank = _RANK[strategy]
            candidates = sorted(self.supporting(source, target), key=lambda p: rank[p.info.tier])
        return [p for p in candidates if self.breakers[p.name].allows(now)]

    def state(self, name: str) -> BreakerState:
        return self.breakers[name].state(time.monotonic())

    async def call(
        self, provider: Provider, request: TranslationRequest, *, deadline: float
    ) -> TranslationResult:
        """Call one provider with timeout and retries of transient errors.

        Raises the last `ProviderError` when the provider cannot serve the request before
        `deadline` (a `time.monotonic()` value); the caller then falls back to the next one.
        """
        breaker = self.breakers[provider.name]
        attempt = 0
        while True:
            now = time.monotonic()
            if breaker.state(now) is BreakerState.HALF_OPEN:
                breaker.probing = True
            remaining = deadline - now
            if remaining <= 0:
                raise TransientProviderError(provider.name, "request deadline passed", timeout=True)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(min(provider.call_timeout or self.timeout, remaining)):
                    result = await provider.translate(request)
            except TimeoutError:
                error: TransientProviderError = TransientProviderError(
                    provider.name, "timed out", timeout=True
                )
            except TransientProviderError as exc:
                error = exc
            except TerminalProviderError as exc:
                metrics.PROVIDER_ERRORS.labels(provider=provider.name, kind="terminal").inc()
                breaker.park(time.monotonic(), exc.unavailable_for)
                self._publish(provider.name)
                log.warning("provider %s unavailable: %s", provider.name, exc)
                raise
            except RequestRejected:
                metrics.PROVIDER_ERRORS.labels(provider=provider.name, kind="rejected").inc()
                breaker.probing = False
                raise
            else:
                metrics.PROVIDER_LATENCY.labels(provider=provider.name).observe(
                    time.perf_counter() - started
                )
                breaker.success()
                self._publish(provider.name)
                return result
            metrics.PROVIDER_ERRORS.labels(
                provider=provider.name, kind="timeout" if error.timeout else "transient"
            ).inc()
            breaker.transient_failure(time.monotonic())
            self._publish(provider.name)
            attempt += 1
            if attempt > self.max_retries or not breaker.allows(time.monotonic()):
                raise error
            delay = self._backoff(attempt, error.retry_after)
            if time.monotonic() + delay >= deadline:
                # Waiting would blow the deadline: better to try the next provider now.
                raise error
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0.75 * ceiling, ceiling)  # noqa: S311 - jitter, not security

    def _publish(self, name: str) -> None:
        metrics.BREAKER_STATE.labels(provider=name).set(int(self.state(name)))
