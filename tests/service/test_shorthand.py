"""Chat shorthand and code-ish tokens (issue 22): no language, so never mistranslated or refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.settings import DetectionSettings, Settings
from service.translation import shorthand
from service.translation.detection import UNDETERMINED, LanguageDetector
from tests.service.conftest import Api, start_api
from tests.service.scripted import ScriptedProvider

LANGUAGELESS = ["lgtm", "LGTM!", "+1", "ok", "np", "brb", "PROJ-123", "settings.py", "v2.0.1"]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    detector = LanguageDetector.from_settings(DetectionSettings())
    detector.load()
    return detector


@pytest.mark.parametrize("text", [*LANGUAGELESS, "lgtm 👍", "np, brb", "ok (PROJ-123)"])
def test_shorthand_alone_has_no_language(text: str, detector: LanguageDetector) -> None:
    assert shorthand.languageless(text)
    assert detector.detect(text).language == UNDETERMINED
    result = detector.detect(text, author_language="pt")
    assert (result.language, result.confidence) == ("pt", 0.0)  # the author's, not a guess


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("lgtm, lo subo ahora mismo", "es"),
        ("np, je regarde demain matin", "fr"),
        ("PROJ-123 ist jetzt erledigt", "de"),
        ("ho sistemato settings.py ieri sera", "it"),
    ],
)
def test_shorthand_does_not_sway_the_rest_of_a_message(
    text: str, language: str, detector: LanguageDetector
) -> None:
    assert not shorthand.languageless(text)
    assert detector.detect(text).language == language


def test_words_of_real_languages_are_not_shorthand() -> None:
    for text in ("ty", "eta", "nit", "on it", "vale", "Hola.Que tal"):
        assert not shorthand.languageless(text), text
    assert shorthand.remove("a ty? ok") == "a ty?"


@pytest.fixture
async def english_spanish(sqlite_settings: Settings) -> AsyncIterator[Api]:
    """A server whose only provider speaks English and Spanish, with the real detector."""
    detector = LanguageDetector.from_settings(DetectionSettings())
    provider = ScriptedProvider("scripted", pairs={("en", "es"), ("es", "en")})
    async for api in start_api(sqlite_settings, provider, detector):
        yield api


async def test_shorthand_is_returned_as_it_is_never_refused(english_spanish: Api) -> None:
    api = english_spanish
    for text in LANGUAGELESS:
        response = await api.client.post(
            "/api/v1/translate", json={"text": text, "target_lang": "es"}, headers=api.headers
        )
        assert response.status_code == 200, (text, response.text)
        body = response.json()
        assert body["translated_text"] == text and body["provider"] is None, body

    batch = await api.client.post(
        "/api/v1/translate/batch",
        json={"texts": [*LANGUAGELESS, "see you tomorrow"], "target_lang": "es"},
        headers=api.headers,
    )
    assert batch.status_code == 200, batch.text
    items = batch.json()["translations"]
    assert [item["error"] for item in items] == [None] * len(items)
    assert [item["translated_text"] for item in items[:-1]] == LANGUAGELESS
    assert items[-1]["translated_text"] == "[es] see you tomorrow"  # real text still translated


async def test_libretranslate_lines_of_shorthand_come_back_unchanged(english_spanish: Api) -> None:
    api = english_spanish
    response = await api.client.post(
        "/libretranslate/translate",
        json={"q": ["lgtm", "PROJ-123"], "source": "auto", "target": "es", "api_key": api.key},
    )
    assert response.status_code == 200, response.text
    assert response.json()["translatedText"] == ["lgtm", "PROJ-123"]
