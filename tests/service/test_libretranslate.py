"""The LibreTranslate-compatible API as its clients use it: Rocket.Chat and `libretranslatepy`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import urllib.error
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from libretranslatepy import LibreTranslateAPI

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.db.session import create_engine, session_factory
from service.errors import RateLimited
from service.settings import ProviderSettings, Settings
from service.translation.detection import LanguageDetector
from service.translation.providers.apertium import ApertiumProvider
from service.translation.providers.base import TerminalProviderError
from tests.servers import free_port
from tests.service.conftest import Api, start_api, with_limits
from tests.service.scripted import FixedDetector, ScriptedProvider

URL = "/libretranslate"
# language[-Script][-REGION]: what Rocket.Chat's `new Intl.Locale(code)` accepts and keeps.
BCP47 = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")
MODES_DIR = ProviderSettings().apertium_modes_dir
needs_apertium = pytest.mark.skipif(
    not (shutil.which("lt-proc") and (MODES_DIR / "eng-spa.mode").exists()),
    reason="Apertium with the eng-spa pair is not installed (make test installs it)",
)


def token(n: int) -> str:
    """Rocket.Chat's placeholder for markup it keeps out of translation (autotranslate.ts)."""
    return f"<i class=notranslate>{{{n}}}</i>"


def rocketchat_body(key: str, lines: list[str], target: str = "es") -> dict[str, object]:
    """What Rocket.Chat's libre-translate provider POSTs (libreTranslate.ts `_query`)."""
    return {"q": lines, "source": "auto", "target": target, "format": "text", "api_key": key}


def assert_error(response, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.json() == {"error": message}


# --- what Rocket.Chat sends -------------------------------------------------------------


async def test_rocketchat_lines_come_back_in_order_with_tokens_byte_for_byte(api: Api) -> None:
    lines = [
        f"Hello {token(0)}, the build is green {token(1)}",
        "",
        f"See {token(2)} and {token(3)} before the release",
        "Thanks!",
    ]
    response = await api.client.post(
        f"{URL}/translate", json=rocketchat_body(api.key, lines), headers={"X-Request-ID": "rc-1"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "rc-1"
    body = response.json()
    assert body == {
        "translatedText": [
            f"[es] Hello {token(0)}, the build is green {token(1)}",
            "",
            f"[es] See {token(2)} and {token(3)} before the release",
            "[es] Thanks!",
        ],
        "detectedLanguage": [{"confidence": 99.0, "language": "en"}] * 4,
    }
    for n in range(4):
        assert token(n).encode() in response.content
    # One provider call for the whole message, which never saw Rocket.Chat's tokens.
    assert len(api.provider.calls) == 1
    [call] = api.provider.calls
    assert len(call.texts) == 3
    assert not any("notranslate" in text for text in call.texts)


async def test_each_line_is_cached_on_its_own(api: Api) -> None:
    first = ["Good morning team", f"The deploy {token(0)} is done"]
    response = await api.client.post(f"{URL}/translate", json=rocketchat_body(api.key, first))
    assert response.status_code == 200, response.text
    assert len(api.provider.calls) == 1

    second = [f"The deploy {token(0)} is done", "A brand new line", "Good morning team"]
    response = await api.client.post(f"{URL}/translate", json=rocketchat_body(api.key, second))
    assert response.status_code == 200, response.text
    assert response.json()["translatedText"] == [
        f"[es] The deploy {token(0)} is done",
        "[es] A brand new line",
        "[es] Good morning team",
    ]
    assert len(api.provider.calls) == 2
    assert api.provider.calls[1].texts == ("A brand new line",)


async def test_lines_share_one_detection(sqlite_settings: Settings) -> None:
    # Line by line, the short second line would be taken for German; the message is English.
    detector = FixedDetector("en", table={"Kindergarten": "de"})
    async for api in start_api(sqlite_settings, ScriptedProvider(), detector):
        response = await api.client.post(
            f"{URL}/translate",
            json=rocketchat_body(api.key, ["We sent the kids to", "Kindergarten"]),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["detectedLanguage"] == [{"confidence": 99.0, "language": "en"}] * 2
        assert [c.source for c in api.provider.calls] == ["en"]


async def test_text_in_the_target_language_is_returned_as_is(sqlite_settings: Settings) -> None:
    async for api in start_api(sqlite_settings, ScriptedProvider(), FixedDetector("es")):
        response = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, [f"Hola {token(0)}"])
        )
        assert response.json()["translatedText"] == [f"Hola {token(0)}"]
        assert api.provider.calls == []


# --- other request shapes ---------------------------------------------------------------


async def test_single_string_with_explicit_source_has_no_detected_language(api: Api) -> None:
    response = await api.client.post(
        f"{URL}/translate",
        json={"q": "Good night", "source": "en", "target": "fr", "api_key": api.key},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"translatedText": "[fr] Good night"}

    auto = await api.client.post(
        f"{URL}/translate",
        json={"q": "Good night", "source": "auto", "target": "de", "api_key": api.key},
    )
    assert auto.json() == {
        "translatedText": "[de] Good night",
        "detectedLanguage": {"confidence": 99.0, "language": "en"},
    }


async def test_form_bodies_urlencoded_and_multipart(api: Api) -> None:
    urlencoded = await api.client.post(
        f"{URL}/translate",
        data={"q": "line one\r\nline two", "source": "en", "target": "es", "api_key": api.key},
    )
    assert urlencoded.status_code == 200, urlencoded.text
    # Form text gets LF line endings, as LibreTranslate normalises it.
    assert urlencoded.json() == {"translatedText": "[es] line one\nline two"}

    multipart = await api.client.post(
        f"{URL}/translate",
        data={"q": "Hello", "source": "en", "target": "fr", "api_key": api.key},
        files={"unused": ("note.txt", b"ignored", "text/plain")},
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json() == {"translatedText": "[fr] Hello"}


async def test_key_is_read_where_libretranslate_reads_it(api: Api) -> None:
    # Form requests: the query string counts (Werkzeug's request.values) ...
    query = await api.client.post(
        f"{URL}/translate",
        params={"api_key": api.key},
        data={"q": "Hello", "source": "en", "target": "es"},
    )
    assert query.status_code == 200, query.text
    # ... JSON requests: only the body; and headers never carry the key on this API.
    assert_error(
        await api.client.post(
            f"{URL}/translate",
            params={"api_key": api.key},
            json={"q": "Hello", "source": "en", "target": "es"},
            headers={"X-API-Key": api.key},
        ),
        400,
        "Please contact the server operator to get an API key",
    )


async def test_html_keeps_tags_and_entities(api: Api) -> None:
    html = f'<p>Hello <b class="x">world</b> &amp; {token(0)}<br/></p>'
    response = await api.client.post(
        f"{URL}/translate",
        json={"q": html, "source": "en", "target": "es", "format": "html", "api_key": api.key},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"translatedText": f"[es] {html}"}
    [call] = api.provider.calls
    assert "<" not in call.texts[0] and "&amp;" not in call.texts[0]


async def test_legacy_libretranslate_codes_are_accepted(sqlite_settings: Settings) -> None:
    provider = ScriptedProvider(pairs={("en", "pt-BR"), ("en", "zh-Hant")})
    async for api in start_api(sqlite_settings, provider):
        for legacy, canonical in (("pb", "pt-BR"), ("zt", "zh-Hant")):
            response = await api.client.post(
                f"{URL}/translate",
                json={"q": "Hi", "source": "en", "target": legacy, "api_key": api.key},
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"translatedText": f"[{canonical}] Hi"}


# --- errors, in LibreTranslate's shape --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"source": "en", "target": "es"}, "Invalid request: missing q parameter"),
        ({"q": "", "source": "en", "target": "es"}, "Invalid request: missing q parameter"),
        ({"q": [], "source": "en", "target": "es"}, "Invalid request: missing q parameter"),
        ({"q": "Hi", "target": "es"}, "Invalid request: missing source parameter"),
        ({"q": "Hi", "source": "en"}, "Invalid request: missing target parameter"),
        ({"q": "Hi", "source": "en", "target": "xx"}, "xx is not supported"),
        ({"q": "Hi", "source": "tlh", "target": "es"}, "tlh is not supported"),
        ({"q": "Hi", "source": "auto", "target": "auto"}, "auto is not supported"),
        ({"q": "Hi", "source": "en", "target": "ja"}, "ja is not supported"),
        (
            {"q": "Hi", "source": "en", "target": "es", "format": "markdown"},
            "markdown format is not supported",
        ),
        # Absent, null or "" mean text; any other value but the two formats is refused.
        ({"q": "Hi", "source": "en", "target": "es", "format": 0}, "0 format is not supported"),
        (
            {"q": "Hi", "source": "en", "target": "es", "format": False},
            "False format is not supported",
        ),
        (
            {"q": ["Hi", 3], "source": "en", "target": "es"},
            "Invalid request: q must be a string or an array of strings",
        ),
    ],
)
async def test_bad_parameters(api: Api, body: dict[str, object], message: str) -> None:
    response = await api.client.post(f"{URL}/translate", json={**body, "api_key": api.key})
    assert_error(response, 400, message)
    assert api.provider.calls == []


async def test_unavailable_pair_names_both_languages(sqlite_settings: Settings) -> None:
    provider = ScriptedProvider(pairs={("en", "es"), ("fr", "es")})
    async for api in start_api(sqlite_settings, provider):
        response = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["Hello"], target="fr")
        )
        assert_error(
            response, 400, "French (fr) is not available as a target language from English (en)"
        )


async def test_character_limit_per_line_and_overall(sqlite_settings: Settings) -> None:
    settings = with_limits(sqlite_settings, max_text_chars=20)
    async for api in start_api(settings, ScriptedProvider()):
        one_line = await api.client.post(
            f"{URL}/translate",
            json={"q": "x" * 21, "source": "en", "target": "es", "api_key": api.key},
        )
        assert_error(one_line, 400, "Invalid request: request (21) exceeds text limit (20)")
        lines = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["a" * 10, "b" * 8, "c" * 5])
        )
        assert_error(lines, 400, "Invalid request: request (23) exceeds text limit (20)")
        at_limit = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["a" * 10, "b" * 10])
        )
        assert at_limit.status_code == 200, at_limit.text
        settings_reply = await api.client.get(f"{URL}/frontend/settings")
        assert settings_reply.json()["charLimit"] == 20


async def test_missing_and_invalid_keys(api: Api) -> None:
    body = {"q": "Hi", "source": "en", "target": "es"}
    missing = "Please contact the server operator to get an API key"
    assert_error(await api.client.post(f"{URL}/translate", json=body), 400, missing)
    assert_error(await api.client.post(f"{URL}/detect", data={"q": "Hi"}), 400, missing)
    for bad in ("nope", "utp_aaaaaaaaaaaa_" + "b" * 40, 42):
        response = await api.client.post(f"{URL}/translate", json={**body, "api_key": bad})
        assert_error(response, 403, "Invalid API key")
    # The key is checked before the parameters, as LibreTranslate does.
    assert_error(
        await api.client.post(f"{URL}/translate", json={"api_key": "nope"}), 403, "Invalid API key"
    )
    assert api.provider.calls == []


async def test_malformed_bodies(api: Api) -> None:
    headers = {"Content-Type": "application/json"}
    assert_error(
        await api.client.post(f"{URL}/translate", content=b'{"q": "Hi",', headers=headers),
        400,
        "The browser (or proxy) sent a request that this server could not understand.",
    )
    assert_error(
        await api.client.post(f"{URL}/translate", content=b'["Hi"]', headers=headers),
        400,
        "Invalid JSON format",
    )


async def test_rate_limit_is_a_libretranslate_slowdown(sqlite_settings: Settings) -> None:
    limited = RateLimited("too many requests", details={"limit": 30}, headers={"Retry-After": "7"})
    async for api in start_api(sqlite_settings, ScriptedProvider(script=[limited])):
        response = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["Hello there"])
        )
        assert_error(response, 429, "Slowdown: 30 per 1 minute")
        assert response.headers["retry-after"] == "7"


async def test_provider_failure_is_a_500(sqlite_settings: Settings) -> None:
    broken = ScriptedProvider(script=[TerminalProviderError("scripted", "bad credentials")])
    async for api in start_api(sqlite_settings, broken):
        response = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["Hello there"])
        )
        assert response.status_code == 500, response.text
        assert set(response.json()) == {"error"}
        assert response.json()["error"].startswith("Cannot translate text: ")


# --- detect, languages, frontend settings -----------------------------------------------


async def test_detect(api: Api) -> None:
    response = await api.client.post(f"{URL}/detect", json={"q": "Hello there", "api_key": api.key})
    assert response.status_code == 200, response.text
    assert response.json() == [{"confidence": 99.0, "language": "en"}]
    form = await api.client.post(f"{URL}/detect", data={"q": "Hello", "api_key": api.key})
    assert form.json() == [{"confidence": 99.0, "language": "en"}]
    assert_error(
        await api.client.post(f"{URL}/detect", json={"api_key": api.key}),
        400,
        "Invalid request: missing q parameter",
    )


async def test_languages_are_public_bcp47_with_targets(sqlite_settings: Settings) -> None:
    provider = ScriptedProvider(
        pairs={("en", "pt-BR"), ("en", "zh-Hans"), ("zh-Hant", "en"), ("en", "es")}
    )
    async for api in start_api(sqlite_settings, provider):
        response = await api.client.get(f"{URL}/languages")
        assert response.status_code == 200, response.text
        listed = {entry["code"]: entry for entry in response.json()}
        assert set(listed) == {"en", "es", "pt-BR", "zh-Hans", "zh-Hant"}
        assert not {"pb", "zt"} & set(listed)
        for entry in listed.values():
            assert set(entry) == {"code", "name", "targets"}
            assert BCP47.match(entry["code"]), entry
            assert set(entry["targets"]) <= set(listed)
        assert listed["en"]["targets"] == ["es", "pt-BR", "zh-Hans"]
        assert listed["zh-Hant"]["targets"] == ["en"]
        assert listed["pt-BR"] == {"code": "pt-BR", "name": "Portuguese (Brazil)", "targets": []}


async def test_frontend_settings_has_the_real_servers_shape(api: Api) -> None:
    response = await api.client.get(f"{URL}/frontend/settings")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "charLimit",
        "frontendTimeout",
        "apiKeys",
        "keyRequired",
        "suggestions",
        "filesTranslation",
        "supportedFilesFormat",
        "language",
    }
    assert body["apiKeys"] is True and body["keyRequired"] is True
    assert body["language"]["source"] == {"code": "auto", "name": "Auto Detect"}
    assert body["language"]["target"] == {"code": "es", "name": "Spanish"}


# --- the reference Python client against a live server -----------------------------------


@pytest.fixture
def live_server(sqlite_settings: Settings) -> Iterator[tuple[str, str]]:
    """The app under uvicorn on a free loopback port: (base URL, API key)."""

    async def bootstrap() -> str:
        engine = create_engine(sqlite_settings.database_url)
        issued = await ensure_default_workspace(session_factory(engine), None)
        await engine.dispose()
        assert issued is not None
        return issued.key

    key = asyncio.run(bootstrap())
    app = create_app(
        sqlite_settings, Overrides(providers=[ScriptedProvider()], detector=FixedDetector("en"))
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}{URL}", key
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_libretranslatepy_client_works_unchanged(live_server: tuple[str, str]) -> None:
    url, key = live_server
    client = LibreTranslateAPI(url, api_key=key)
    assert client.translate("LibreTranslate is awesome!", "en", "es") == (
        "[es] LibreTranslate is awesome!"
    )
    assert client.translate("Good morning", "auto", "fr") == "[fr] Good morning"
    assert client.detect("Hello world") == [{"confidence": 99.0, "language": "en"}]
    codes = [entry["code"] for entry in client.languages()]
    assert codes == sorted(codes) and "es" in codes
    assert all(BCP47.match(code) for code in codes)

    with pytest.raises(urllib.error.HTTPError) as denied:
        LibreTranslateAPI(url, api_key="wrong").translate("Hi", "en", "es")
    assert denied.value.code == 403
    assert json.loads(denied.value.read()) == {"error": "Invalid API key"}
    with pytest.raises(urllib.error.HTTPError) as keyless:
        LibreTranslateAPI(url).translate("Hi", "en", "es")
    assert keyless.value.code == 400
    assert json.loads(keyless.value.read()) == {
        "error": "Please contact the server operator to get an API key"
    }
    # Languages need no key (Rocket.Chat fetches them without one).
    assert LibreTranslateAPI(url).languages()


# --- end to end with the real offline engine --------------------------------------------


@pytest.fixture
async def apertium_api(sqlite_settings: Settings) -> AsyncIterator[Api]:
    provider = ApertiumProvider(ProviderSettings(apertium_pool_size=1))
    detector = LanguageDetector.from_settings(sqlite_settings.detection)
    async for api in start_api(sqlite_settings, provider, detector):  # type: ignore[arg-type]
        yield api


@needs_apertium
@pytest.mark.apertium
async def test_rocketchat_message_through_apertium(apertium_api: Api) -> None:
    lines = [
        f"Good morning {token(0)}, how is the project going?",
        f"The meeting is tomorrow at {token(1)} in the big room.",
    ]
    response = await apertium_api.client.post(
        f"{URL}/translate", json=rocketchat_body(apertium_api.key, lines)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    first, second = body["translatedText"]
    assert first.startswith("Buenos días ") and token(0) in first
    assert "mañana" in second and token(1) in second
    assert [d["language"] for d in body["detectedLanguage"]] == ["en", "en"]
    assert all(50 < d["confidence"] <= 100 for d in body["detectedLanguage"])

    languages = (await apertium_api.client.get(f"{URL}/languages")).json()
    codes = {entry["code"] for entry in languages}
    assert {"en", "es"} <= codes
    assert all(BCP47.match(code) for code in codes), codes
    english = next(entry for entry in languages if entry["code"] == "en")
    assert "es" in english["targets"]


def test_bcp47_check_is_strict() -> None:
    # The checks above must be able to fail on what a sloppy list would hold.
    for bad in ("pt_BR", "pt-br", "zh-hans", "EN", "en-", "english", "zh-Hans-"):
        assert not BCP47.match(bad), bad
    for good in ("en", "pt-BR", "zh-Hans", "zh-Hant-TW", "es-419", "fil"):
        assert BCP47.match(good), good


async def test_the_workspace_rate_limit_applies_to_rocketchat_too(
    sqlite_settings: Settings,
) -> None:
    from dataclasses import replace

    settings = replace(
        sqlite_settings, usage=replace(sqlite_settings.usage, rate_limit_key_per_minute=2)
    )
    async for api in start_api(settings, ScriptedProvider()):
        for line in ("one", "two"):
            ok = await api.client.post(f"{URL}/translate", json=rocketchat_body(api.key, [line]))
            assert ok.status_code == 200, ok.text
        response = await api.client.post(
            f"{URL}/translate", json=rocketchat_body(api.key, ["three"])
        )
        assert_error(response, 429, "Slowdown: 2 per 1 minute")
        assert int(response.headers["retry-after"]) > 0
