"""Google Cloud Translation v2 against its loopback fake."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret
from service.translation.providers.base import (
    RequestRejected,
    TerminalProviderError,
    TransientProviderError,
    TranslationRequest,
)
from service.translation.providers.google import GoogleProvider

from .conftest import GOOGLE_KEY
from .fakes import GoogleFake, Scripted, google_error


def make(
    fake: GoogleFake, client: OutboundClient, key: str = GOOGLE_KEY, **kw: object
) -> GoogleProvider:
    settings = ProviderSettings(google_api_key=Secret(key), google_base_url=fake.url, **kw)  # type: ignore[arg-type]
    return GoogleProvider(settings, client)


async def test_html_format_keeps_sentinels_newlines_and_apostrophes(
    google_fake: GoogleFake, client: OutboundClient
) -> None:
    request = TranslationRequest(
        texts=("it's ⟦0⟧ <b>not</b> bold", "two\nlines & ⟦1⟧"), source="en", target="zh-Hans"
    )
    result = await make(google_fake, client).translate(request)

    assert result.texts == ("[zh-CN] IT'S ⟦0⟧ <B>NOT</B> BOLD", "[zh-CN] TWO\nLINES & ⟦1⟧")
    [sent] = google_fake.received
    assert sent.query["key"] == GOOGLE_KEY
    assert "authorization" not in sent.headers
    assert sent.body["format"] == "html"
    assert (sent.body["source"], sent.body["target"]) == ("en", "zh-CN")
    assert sent.body["q"][0] == 'it\'s <span translate="no">⟦0⟧</span> &lt;b&gt;not&lt;/b&gt; bold'
    assert "<br>" in sent.body["q"][1]
    assert result.cost == Decimal(20) * request.characters / 1_000_000
    assert result.characters == request.characters


async def test_more_than_128_segments_are_split(
    google_fake: GoogleFake, client: OutboundClient
) -> None:
    texts = tuple(f"t{i}" for i in range(300))
    result = await make(google_fake, client).translate(
        TranslationRequest(texts=texts, source="en", target="pt-BR")
    )
    assert result.texts == tuple(f"[pt] T{i}" for i in range(300))
    assert [len(r.body["q"]) for r in google_fake.received] == [128, 128, 44]


async def test_detect(google_fake: GoogleFake, client: OutboundClient) -> None:
    provider = make(google_fake, client)
    assert provider.info.capabilities.detect
    [detection] = await provider.detect("hola, ¿qué tal?")
    assert detection.language == "es"
    assert detection.confidence == pytest.approx(0.93)
    assert google_fake.received[0].path == "/language/translate/v2/detect"


async def test_wrong_key_is_terminal_and_not_leaked(
    google_fake: GoogleFake, client: OutboundClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TerminalProviderError) as info:
        await make(google_fake, client, key="AIzaWRONGKEY123").translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert info.value.status == 400
    assert "AIzaWRONGKEY123" not in str(info.value)
    assert "AIzaWRONGKEY123" not in caplog.text


async def test_missing_key_is_terminal(google_fake: GoogleFake, client: OutboundClient) -> None:
    with pytest.raises(TerminalProviderError) as info:
        await make(google_fake, client, key="").translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
            TransientProviderError,
        ),
        (google_error(403, "rateLimitExceeded", "Rate Limit Exceeded"), TransientProviderError),
        (google_error(403, "dailyLimitExceeded", "Daily Limit Exceeded"), TerminalProviderError),
        (google_error(429, "rateLimitExceeded", "Too many requests"), TransientProviderError),
        (google_error(500, "backendError", "Internal error", "INTERNAL"), TransientProviderError),
        (google_error(400, "invalid", "Invalid Value", "INVALID_ARGUMENT"), RequestRejected),
    ],
)
async def test_error_classes(
    google_fake: GoogleFake, client: OutboundClient, reply: Scripted, error: type[Exception]
) -> None:
    google_fake.enqueue(reply)
    with pytest.raises(error) as info:
        await make(google_fake, client).translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert getattr(info.value, "status", None) == reply.status
    assert GOOGLE_KEY not in str(info.value)


async def test_retry_after_http_date(google_fake: GoogleFake, client: OutboundClient) -> None:
    reply = google_error(429, "rateLimitExceeded", "Too many requests")
    reply.headers["Retry-After"] = "Wed, 21 Oct 2099 07:28:00 GMT"
    google_fake.enqueue(reply)
    with pytest.raises(TransientProviderError) as info:
        await make(google_fake, client).translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert info.value.retry_after is not None and info.value.retry_after > 0


async def test_timeout_is_transient(google_fake: GoogleFake, client: OutboundClient) -> None:
    google_fake.enqueue(Scripted(delay=1.0))
    with pytest.raises(TransientProviderError) as info:
        await make(google_fake, client, provider_timeout_seconds=0.2).translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert info.value.timeout


def test_enabled_and_languages() -> None:
    assert not GoogleProvider.enabled(ProviderSettings())
    provider = GoogleProvider(ProviderSettings(google_api_key=Secret("k")), OutboundClient(10.0))
    assert provider.supports("ca", "hi")
    assert provider.supports("en", "zh-Hant")
    assert not provider.supports("en", "en")
