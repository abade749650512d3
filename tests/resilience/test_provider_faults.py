"""The primary provider failing (5xx, hanging, 429 with a long Retry-After): every request is
served by the fallback within its deadline, the breaker opens, and closes again once the
primary recovers. Both providers speak their real wire format to loopback fakes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Request, Response

from service.settings import LimitSettings, ProviderSettings, Secret
from service.translation.router import BreakerState
from tests.resilience.conftest import Service, Stream, eventually, serve, settings_for
from tests.service.providers.fakes import DeepLFake, LibreTranslateFake, Received

DEEPL_KEY = "0f1e2d3c-4b5a-6978-8899-aabbccddeeff:fx"
LIBRE_KEY = "libre-fake-key-0123"
PROVIDER_TIMEOUT = 0.4
REQUEST_TIMEOUT = 4.0
COOLDOWN = 1.0
THRESHOLD = 3
REQUESTS = 40
# Far beyond the request deadline: waiting for either would be the bug.
HANG_SECONDS = 60 * REQUEST_TIMEOUT
RETRY_AFTER_SECONDS = 30 * REQUEST_TIMEOUT


class FaultyDeepL(DeepLFake):
    """DeepL that answers 503, hangs, or rate-limits every translation while `fault` is set."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.fault: str | None = None
        self.translate_calls = 0

    async def dispatch(
        self, request: Request[Any, Any, Any], handle: Callable[[Received], Any]
    ) -> Response[Any]:
        if request.url.path == "/v2/translate":
            self.translate_calls += 1
            if self.fault == "5xx":
                return Response({"message": "Internal server error"}, status_code=503)
            if self.fault == "429":
                return Response(
                    {"message": "Too many requests"},
                    status_code=429,
                    headers={"Retry-After": str(int(RETRY_AFTER_SECONDS))},
                )
            if self.fault == "timeout":
                await asyncio.sleep(HANG_SECONDS)
        return await super().dispatch(request, handle)


@pytest.fixture(scope="module")
def deepl() -> Iterator[FaultyDeepL]:
    fake = FaultyDeepL(DEEPL_KEY)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def libre() -> Iterator[LibreTranslateFake]:
    fake = LibreTranslateFake(LIBRE_KEY)
    fake.start()
    yield fake
    fake.stop()


def _settings(data_dir: Path, deepl: FaultyDeepL, libre: LibreTranslateFake) -> Any:
    return settings_for(
        data_dir,
        providers=ProviderSettings(
            apertium_enabled=False,
            deepl_api_key=Secret(DEEPL_KEY),
            deepl_base_url=deepl.url,
            libretranslate_url=libre.url,
            libretranslate_api_key=Secret(LIBRE_KEY),
            provider_timeout_seconds=PROVIDER_TIMEOUT,
            provider_max_retries=1,
            breaker_failure_threshold=THRESHOLD,
            breaker_cooldown_seconds=COOLDOWN,
        ),
        limits=LimitSettings(request_timeout_seconds=REQUEST_TIMEOUT),
    )


_fresh = itertools.count()


def _new_text() -> str:
    return f"Deployment note {next(_fresh)} for the team"


async def _provider_of(service: Service) -> str:
    response = await service.translate(_new_text())
    assert response.status_code == 200, response.text
    provider: str = response.json()["provider"]
    return provider


@pytest.mark.parametrize("fault", ["5xx", "timeout", "429"])
async def test_primary_failing_is_absorbed_by_the_fallback_and_the_breaker(
    fault: str, deepl: FaultyDeepL, libre: LibreTranslateFake, data_dir: Path
) -> None:
    deepl.fault = None
    async with serve(_settings(data_dir, deepl, libre)) as service:
        router = service.services.engine.router
        assert [await _provider_of(service) for _ in range(3)] == ["deepl"] * 3

        deepl.fault = fault
        calls_before = deepl.translate_calls
        stream = Stream(service, lambda i: f"{fault} stream message {i}", workers=6)
        stream.start()
        try:
            await stream.until(REQUESTS)
        finally:
            results = await stream.stop()

        assert stream.errors == []
        assert [(r.status, r.body) for r in results if r.status != 200] == []
        assert {r.body["provider"] for r in results} == {"libretranslate"}
        # Nobody waited for the hang or the Retry-After: each request kept its own deadline.
        assert max(r.seconds for r in results) < REQUEST_TIMEOUT
        # The breaker opened: most requests never reached the failing primary.
        assert router.state("deepl") in (BreakerState.OPEN, BreakerState.HALF_OPEN)
        assert deepl.translate_calls - calls_before < len(results) / 2

        deepl.fault = None

        async def recovered() -> bool:
            return await _provider_of(service) == "deepl"

        # The cooldown passes, one probe succeeds, the primary takes the traffic back.
        await eventually(recovered, seconds=10 * COOLDOWN + REQUEST_TIMEOUT)
        assert router.state("deepl") is BreakerState.CLOSED
        assert [await _provider_of(service) for _ in range(5)] == ["deepl"] * 5
