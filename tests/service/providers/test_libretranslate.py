"""LibreTranslate against its loopback fake."""

from __future__ import annotations

import html

import pytest

from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret
from service.translation.providers.base import (
    RequestRejected,
    TerminalProviderError,
    TransientProviderError,
    TranslationRequest,
)
from service.translation.providers.libretranslate import (
    LibreTranslateProvider,
    decode,
    encode,
)

from .conftest import LIBRE_KEY
from .fakes import LibreTranslateFake, Scripted, libre_error


def make(
    fake: LibreTranslateFake, client: OutboundClient, key: str = LIBRE_KEY, **kw: object
) -> LibreTranslateProvider:
    settings = ProviderSettings(
        libretranslate_url=fake.url,
        libretranslate_api_key=Secret(key),
        **kw,  # type: ignore[arg-type]
    )
    return LibreTranslateProvider(settings, client)


async def test_batch_in_html_keeps_sentinels(
    libre_fake: LibreTranslateFake, client: OutboundClient
) -> None:
    result = await make(libre_fake, client).translate(
        TranslationRequest(texts=("hi ⟦0⟧ & bye", "one\ntwo"), source="en", target="es")
    )
    assert result.texts == ("[es] HI ⟦0⟧ & BYE", "[es] ONE\nTWO")
    [sent] = libre_fake.received
    assert sent.path == "/translate"
    assert sent.body["q"] == [
        'hi <code translate="no">⟦0⟧</code> &amp; bye',
        'one<code translate="no">⟦n⟧</code>two',
    ]
    assert sent.body["format"] == "html"
    assert sent.body["api_key"] == LIBRE_KEY
    assert result.cost == 0
    assert result.model == "libretranslate"


async def test_text_that_looks_like_entities_or_tags_comes_back_as_written(
    libre_fake: LibreTranslateFake, client: OutboundClient
) -> None:
    # The server decodes entities in its html output itself; decoding again turned
    # "docs&notes" into "docs¬es" (`&not` is an entity) and a literal <br> into a line break.
    texts = ("docs&notes", "a literal <br> tag", "&lt;b&gt; stays", "x &amp; y", "1\n2")
    result = await make(libre_fake, client).translate(
        TranslationRequest(texts=texts, source="en", target="es")
    )
    assert result.texts == (
        "[es] DOCS&NOTES",
        "[es] A LITERAL <BR> TAG",
        "[es] &LT;B&GT; STAYS",
        "[es] X &AMP; Y",
        "[es] 1\n2",
    )


@pytest.mark.parametrize(
    "text",
    ["docs&notes", "a literal <br> tag", "&lt;b&gt; is not bold", "x &amp; y", "one\ntwo ⟦0⟧"],
)
def test_what_the_server_echoes_decodes_to_the_text_sent(text: str) -> None:
    # A real server with an identity model answers html.unescape(what it got).
    assert decode(html.unescape(encode(text))) == text


async def test_start_learns_the_servers_languages_and_spellings(
    libre_fake: LibreTranslateFake, client: OutboundClient
) -> None:
    provider = make(libre_fake, client)
    assert provider.supports("en", "ko")  # static table before start
    await provider.start()
    assert provider.languages() == {"en", "es", "fr", "de", "ja", "zh-Hans", "zh-Hant"}
    assert provider.supports("en", "zh-Hant")
    assert not provider.supports("ja", "es")  # the server has no ja->es model
    assert not provider.supports("en", "ko")
    result = await provider.translate(
        TranslationRequest(texts=("hello",), source="en", target="zh-Hant")
    )
    assert libre_fake.requests_to("/translate")[0].body["target"] == "zt"
    assert result.texts == ("[zt] HELLO",)


async def test_start_survives_an_unreachable_server(client: OutboundClient) -> None:
    settings = ProviderSettings(libretranslate_url="http://127.0.0.1:9")
    provider = LibreTranslateProvider(settings, client)
    await provider.start()
    assert provider.supports("en", "es")


async def test_detect(libre_fake: LibreTranslateFake, client: OutboundClient) -> None:
    detections = await make(libre_fake, client).detect("hola amigos")
    assert [(d.language, d.confidence) for d in detections] == [("es", 0.92), ("pt", 0.12)]


async def test_missing_key_is_terminal(
    libre_fake: LibreTranslateFake, client: OutboundClient
) -> None:
    with pytest.raises(TerminalProviderError) as info:
        await make(libre_fake, client, key="").translate(
            TranslationRequest(texts=("hi",), source="en", target="es")
        )
    assert info.value.status == 400
    assert "api_key" not in libre_fake.received[0].body


async def test_wrong_key_is_terminal(
    libre_fake: LibreTranslateFake, client: OutboundClient
) -> None:
    with pytest.raises(TerminalProviderError) as info:
        await make(libre_fake, client, key="nope-key").translate(
            TranslationRequest(texts=("hi",), source="en", target="es")
        )
    assert info.value.status == 403
    assert "nope-key" not in str(info.value)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (libre_error(429, "Slowdown: 30 per 1 minute"), TransientProviderError),
        (libre_error(500, "Cannot translate text"), TransientProviderError),
        (libre_error(400, "ko is not supported"), RequestRejected),
    ],
)
async def test_error_classes(
    libre_fake: LibreTranslateFake,
    client: OutboundClient,
    reply: Scripted,
    error: type[Exception],
) -> None:
    libre_fake.enqueue(reply)
    with pytest.raises(error):
        await make(libre_fake, client).translate(
            TranslationRequest(texts=("hi",), source="en", target="es")
        )


async def test_timeout_is_transient(libre_fake: LibreTranslateFake, client: OutboundClient) -> None:
    libre_fake.enqueue(Scripted(delay=1.0))
    with pytest.raises(TransientProviderError) as info:
        await make(libre_fake, client, provider_timeout_seconds=0.2).translate(
            TranslationRequest(texts=("hi",), source="en", target="es")
        )
    assert info.value.timeout


def test_enabled_by_url() -> None:
    assert not LibreTranslateProvider.enabled(ProviderSettings())
    assert LibreTranslateProvider.enabled(ProviderSettings(libretranslate_url="http://lt:5000"))
