"""DeepL against its loopback fake: wire format, sentinels, splitting, glossaries, errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret
from service.translation import languages
from service.translation.providers.base import (
    ContextMessage,
    GlossaryEntry,
    RequestRejected,
    TerminalProviderError,
    TransientProviderError,
    TranslationRequest,
)
from service.translation.providers.deepl import (
    LANGUAGES,
    DeepLProvider,
    source_code,
    target_code,
)

from .conftest import DEEPL_KEY
from .fakes import DeepLFake, Scripted, deepl_error
from .fakes.deepl import DEEPL_SOURCE, DEEPL_TARGET


def make(fake: DeepLFake, client: OutboundClient, **overrides: object) -> DeepLProvider:
    settings = ProviderSettings(
        deepl_api_key=Secret(DEEPL_KEY),
        deepl_base_url=fake.url,
        **overrides,  # type: ignore[arg-type]
    )
    return DeepLProvider(settings, client)


async def test_batch_keeps_sentinels_and_reports_cost(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    provider = make(deepl_fake, client)
    request = TranslationRequest(
        texts=("hello ⟦0⟧, see ⟦1⟧", "a < b & c > d", "line one\nline two"),
        source="en",
        target="pt-BR",
        formality="less",
    )
    result = await provider.translate(request)

    assert result.texts == (
        "[PT-BR] HELLO ⟦0⟧, SEE ⟦1⟧",
        "[PT-BR] A < B & C > D",
        "[PT-BR] LINE ONE\nLINE TWO",
    )
    [sent] = deepl_fake.received
    assert sent.headers["authorization"] == f"DeepL-Auth-Key {DEEPL_KEY}"
    assert sent.body["target_lang"] == "PT-BR"
    assert sent.body["source_lang"] == "EN"
    assert sent.body["tag_handling"] == "xml"
    assert sent.body["ignore_tags"] == ["x"]
    assert sent.body["formality"] == "prefer_less"
    assert sent.body["text"][0] == 'hello <x id="0"/>, see <x id="1"/>'
    assert sent.body["text"][1] == "a &lt; b &amp; c &gt; d"
    # DeepL's billed count, which leaves out the sentinel tags.
    assert result.characters == request.characters - 2 * len("⟦0⟧")
    assert result.cost == Decimal(25) * result.characters / 1_000_000
    assert result.model == "deepl"


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("en", "EN-US"),
        ("pt", "PT-PT"),
        ("zh-Hans", "ZH-HANS"),
        ("zh-Hant", "ZH-HANT"),
        ("de", "DE"),
    ],
)
async def test_target_codes(
    deepl_fake: DeepLFake, client: OutboundClient, target: str, code: str
) -> None:
    source = "de" if target == "en" else "en"
    result = await make(deepl_fake, client).translate(
        TranslationRequest(texts=("x",), source=source, target=target)
    )
    assert deepl_fake.received[0].body["target_lang"] == code
    assert result.texts == (f"[{code}] X",)


async def test_context_is_sent(deepl_fake: DeepLFake, client: OutboundClient) -> None:
    request = TranslationRequest(
        texts=("it's broken",),
        source="en",
        target="de",
        context=(ContextMessage("the build server", author="ana"), ContextMessage("again?")),
    )
    await make(deepl_fake, client).translate(request)
    assert deepl_fake.received[0].body["context"] == "the build server\nagain?"


def cluster_request(*entries: GlossaryEntry) -> TranslationRequest:
    return TranslationRequest(
        texts=("deploy the cluster",), source="en", target="de", glossary=entries
    )


async def test_glossary_created_once_and_used(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    provider = make(deepl_fake, client)
    request = cluster_request(
        GlossaryEntry("cluster", "Cluster-X"), GlossaryEntry("bad\tterm", "x")
    )
    first = await provider.translate(request)
    second = await provider.translate(request)

    assert first.texts == second.texts == ("[DE] DEPLOY THE Cluster-X",)
    [created] = deepl_fake.requests_to("/v2/glossaries", "POST")
    assert created.body["entries"] == "cluster\tCluster-X"
    assert (created.body["source_lang"], created.body["target_lang"]) == ("en", "de")
    translations = deepl_fake.requests_to("/v2/translate")
    assert len(translations) == 2
    assert all(r.body["glossary_id"] in deepl_fake.glossaries for r in translations)


async def test_glossaries_are_reused_across_replicas_and_restarts(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    request = cluster_request(GlossaryEntry("cluster", "Cluster-X"))
    first = await make(deepl_fake, client).translate(request)
    # Another process on the same account: it finds the glossary by name instead of
    # creating a copy (DeepL accounts hold a limited number of glossaries).
    second = await make(deepl_fake, client).translate(request)
    third = await make(deepl_fake, client).translate(
        cluster_request(GlossaryEntry("cluster", "Cluster-Y"))
    )

    assert first.texts == second.texts == ("[DE] DEPLOY THE Cluster-X",)
    assert third.texts == ("[DE] DEPLOY THE Cluster-Y",)
    assert len(deepl_fake.requests_to("/v2/glossaries", "POST")) == 2
    assert len(deepl_fake.glossaries) == 2
    assert len(deepl_fake.requests_to("/v2/glossaries", "GET")) == 3
    [one, two, _] = deepl_fake.requests_to("/v2/translate")
    assert one.body["glossary_id"] == two.body["glossary_id"]


async def test_glossary_listing_failure_still_translates_with_the_glossary(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    deepl_fake.enqueue(deepl_error(503, "Service temporarily unavailable"))
    request = cluster_request(GlossaryEntry("cluster", "Cluster-X"))
    result = await make(deepl_fake, client).translate(request)
    assert result.texts == ("[DE] DEPLOY THE Cluster-X",)
    assert len(deepl_fake.requests_to("/v2/glossaries", "POST")) == 1


async def test_refused_glossary_terms_are_substituted_around_the_call(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    # DeepL makes no glossaries into Hindi: the terms must still apply, not vanish silently.
    provider = make(deepl_fake, client)
    request = TranslationRequest(
        texts=("Hello ⟦0⟧, hello & goodbye", "othello"),
        source="en",
        target="hi",
        glossary=(GlossaryEntry("hello", "नमस्ते"), GlossaryEntry("a < b", "x")),
    )
    first = await provider.translate(request)
    second = await provider.translate(request)

    assert first.texts == second.texts == ("[HI] नमस्ते ⟦0⟧, नमस्ते & GOODBYE", "[HI] OTHELLO")
    assert len(deepl_fake.requests_to("/v2/glossaries", "POST")) == 1  # refusal remembered
    sent = deepl_fake.requests_to("/v2/translate")[0].body
    assert "glossary_id" not in sent
    assert sent["ignore_tags"] == ["x", "t"]
    assert sent["text"][0] == '<t id="0"/> <x id="0"/>, <t id="0"/> &amp; goodbye'


async def test_a_glossary_deleted_on_the_account_is_recreated(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    provider = make(deepl_fake, client)
    request = cluster_request(GlossaryEntry("cluster", "Cluster-X"))
    await provider.translate(request)
    deepl_fake.glossaries.clear()  # someone deleted it in DeepL's console

    result = await provider.translate(request)

    assert result.texts == ("[DE] DEPLOY THE Cluster-X",)
    assert len(deepl_fake.requests_to("/v2/glossaries", "POST")) == 2
    [recreated] = deepl_fake.glossaries
    assert deepl_fake.requests_to("/v2/translate")[-1].body["glossary_id"] == recreated


def versioned(version: int, target: str, scope: str = "ws-1+ch-2") -> TranslationRequest:
    return TranslationRequest(
        texts=("deploy the cluster",),
        source="en",
        target="de",
        glossary=(GlossaryEntry("cluster", target),),
        glossary_scope=scope,
        glossary_version=version,
    )


async def test_an_edit_deletes_the_superseded_glossary_and_only_it(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    old_replica, new_replica = make(deepl_fake, client), make(deepl_fake, client)
    await old_replica.translate(versioned(1, "Cluster-X"))
    await old_replica.translate(versioned(1, "Knoten", scope="ws-2"))  # another glossary
    result = await new_replica.translate(versioned(2, "Cluster-Y"))

    assert result.texts == ("[DE] DEPLOY THE Cluster-Y",)
    names = sorted(g["name"] for g in deepl_fake.glossaries.values())
    assert len(names) == 2 and len(deepl_fake.requests_to("/v2/glossaries", "POST")) == 3
    assert len([r for r in deepl_fake.received if r.method == "DELETE"]) == 1
    assert {n.split("-")[2] for n in names} == {"1", "2"}  # ws-2's v1 and ws-1's v2

    # A replica that has not seen the edit yet recreates its version but never deletes v2.
    stale = await old_replica.translate(versioned(1, "Cluster-X"))
    assert stale.texts == ("[DE] DEPLOY THE Cluster-X",)
    assert len(deepl_fake.glossaries) == 3
    assert len([r for r in deepl_fake.received if r.method == "DELETE"]) == 1


async def test_large_batch_is_split_under_body_limit(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    texts = tuple(f"message {i} " + "x" * 5000 for i in range(60))  # ~300 KiB in all
    result = await make(deepl_fake, client).translate(
        TranslationRequest(texts=texts, source="en", target="es")
    )
    assert result.texts == tuple(f"[ES] {t.upper()}" for t in texts)
    calls = deepl_fake.requests_to("/v2/translate")
    assert len(calls) >= 3
    assert all(call.size <= 128 * 1024 and len(call.body["text"]) <= 50 for call in calls)
    assert [t for call in calls for t in call.body["text"]] == list(texts)


async def test_many_small_texts_split_at_fifty(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    texts = tuple(f"t{i}" for i in range(120))
    result = await make(deepl_fake, client).translate(
        TranslationRequest(texts=texts, source="en", target="es")
    )
    assert len(result.texts) == 120
    assert [len(c.body["text"]) for c in deepl_fake.requests_to("/v2/translate")] == [50, 50, 20]


async def test_single_text_over_limit_is_rejected_without_a_call(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    with pytest.raises(RequestRejected) as info:
        await make(deepl_fake, client).translate(
            TranslationRequest(texts=("y" * 140_000,), source="en", target="es")
        )
    assert info.value.status == 413
    assert deepl_fake.received == []


def test_free_keys_use_the_free_host() -> None:
    client = OutboundClient(10.0)
    free = DeepLProvider(ProviderSettings(deepl_api_key=Secret("abc:fx")), client)
    pro = DeepLProvider(ProviderSettings(deepl_api_key=Secret("abc")), client)
    custom = DeepLProvider(
        ProviderSettings(deepl_api_key=Secret("abc:fx"), deepl_base_url="http://mock:3000/"), client
    )
    assert free.base_url == "https://api-free.deepl.com"
    assert pro.base_url == "https://api.deepl.com"
    assert custom.base_url == "http://mock:3000"


def test_enabled_only_with_a_key() -> None:
    assert not DeepLProvider.enabled(ProviderSettings())
    assert DeepLProvider.enabled(ProviderSettings(deepl_api_key=Secret("k")))


def test_languages_are_deepls_current_list() -> None:
    # DeepL's published v2 list, as far as this service has canonical codes for it.
    listed = DEEPL_SOURCE | DEEPL_TARGET
    expected = {code for code in map(languages.normalize, listed) if code is not None}
    assert expected == LANGUAGES
    assert {"ca", "hi"} <= LANGUAGES  # added by DeepL since the table was written
    for code in LANGUAGES:
        assert target_code(code) in DEEPL_TARGET, code
        assert source_code(code) in DEEPL_SOURCE, code
    provider = DeepLProvider(ProviderSettings(deepl_api_key=Secret("k")), OutboundClient(10.0))
    assert provider.supports("en", "pt-BR") and provider.supports("ja", "zh-Hant")
    assert provider.supports("en", "ca") and not provider.supports("en", "sw")


async def test_wrong_key_is_terminal(deepl_fake: DeepLFake, client: OutboundClient) -> None:
    settings = ProviderSettings(deepl_api_key=Secret("wrong-key:fx"), deepl_base_url=deepl_fake.url)
    with pytest.raises(TerminalProviderError) as info:
        await DeepLProvider(settings, client).translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert info.value.status == 403
    assert "wrong-key" not in str(info.value)


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (
            Scripted(429, {"message": "Too many requests"}, {"Retry-After": "7"}),
            TransientProviderError,
            7.0,
        ),
        (deepl_error(456, "Quota exceeded"), TerminalProviderError, None),
        (deepl_error(529, "Too many requests, high load"), TransientProviderError, None),
        (deepl_error(503, "Service unavailable"), TransientProviderError, None),
        (deepl_error(413, "Request Entity Too Large"), RequestRejected, None),
        (deepl_error(400, "Bad request"), RequestRejected, None),
        (Scripted(502, "<html>bad gateway</html>"), TransientProviderError, None),
    ],
)
async def test_error_classes(
    deepl_fake: DeepLFake,
    client: OutboundClient,
    reply: Scripted,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    deepl_fake.enqueue(reply)
    with pytest.raises(error) as info:
        await make(deepl_fake, client).translate(
            TranslationRequest(texts=("hi",), source="en", target="de")
        )
    assert getattr(info.value, "status", None) == reply.status
    if retry_after is not None:
        assert isinstance(info.value, TransientProviderError)
        assert info.value.retry_after == retry_after
    assert DEEPL_KEY not in str(info.value)
    if reply.status == 456:
        assert isinstance(info.value, TerminalProviderError)
        assert info.value.unavailable_for >= 3600


async def test_timeout_is_transient(deepl_fake: DeepLFake, client: OutboundClient) -> None:
    deepl_fake.enqueue(Scripted(delay=1.0))
    provider = make(deepl_fake, client, provider_timeout_seconds=0.2)
    with pytest.raises(TransientProviderError) as info:
        await provider.translate(TranslationRequest(texts=("hi",), source="en", target="de"))
    assert info.value.timeout


async def test_body_is_json_with_text_array(deepl_fake: DeepLFake, client: OutboundClient) -> None:
    await make(deepl_fake, client).translate(
        TranslationRequest(texts=("ein", "zwei"), source="de", target="en")
    )
    sent = deepl_fake.received[0]
    assert sent.headers["content-type"] == "application/json"
    assert json.dumps(sent.body["text"]) == '["ein", "zwei"]'
