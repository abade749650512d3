"""Glossaries applied by the engines: DeepL receives them as a glossary, Apertium through
substitution; channel glossaries override workspace ones; an edit invalidates the cache."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.settings import ProviderSettings, Settings
from service.translation.providers.apertium import ApertiumProvider
from tests.service.providers.fakes import DeepLFake
from tests.service.providers_config.support import (
    WORKSPACE_DEEPL_KEY,
    Admin,
    admin_app,
    with_encryption_key,
)
from tests.service.scripted import ScriptedProvider

MODES_DIR = ProviderSettings().apertium_modes_dir
needs_apertium = pytest.mark.skipif(
    not (shutil.which("lt-proc") and (MODES_DIR / "eng-spa.mode").exists()),
    reason="Apertium with the eng-spa pair is not installed (make test installs it)",
)
TERMS = [
    {"source_lang": "en", "source_term": "Orange"},  # a brand: never translated
    {"source_lang": "en", "target_lang": "es", "source_term": "release", "target_term": "versión"},
]


async def _glossary(admin: Admin, entries: list[dict[str, str]], **extra: Any) -> str:
    response = await admin.client.post(
        "/api/v1/glossaries",
        json={"name": extra.pop("name", "Product"), "entries": entries, **extra},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _translate(admin: Admin, text: str, **extra: Any) -> dict[str, Any]:
    response = await admin.client.post(
        "/api/v1/translate",
        json={"text": text, "target_lang": "es", **extra},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def apertium_admin(sqlite_settings: Settings) -> AsyncIterator[Admin]:
    settings = with_encryption_key(sqlite_settings)
    async with admin_app(settings, [ApertiumProvider(settings.providers)]) as running:
        yield running


@needs_apertium
async def test_apertium_applies_the_glossary_by_substitution(apertium_admin: Admin) -> None:
    text = "The orange meeting is about the release"
    plain = await _translate(apertium_admin, text)
    assert plain["provider"] == "apertium"
    assert "naranja" in plain["translated_text"] and "versión" not in plain["translated_text"]

    await _glossary(apertium_admin, TERMS)
    with_terms = await _translate(apertium_admin, text)
    assert with_terms["cached"] is False
    out = with_terms["translated_text"]
    assert "Orange" in out and "naranja" not in out
    assert "versión" in out and "reunión" in out  # the rest is still Apertium's Spanish


async def test_deepl_receives_the_glossary_and_edits_invalidate_the_cache(
    sqlite_settings: Settings, workspace_deepl: DeepLFake
) -> None:
    async with admin_app(with_encryption_key(sqlite_settings), [ScriptedProvider()]) as admin:
        await admin.client.put(
            "/api/v1/providers/deepl",
            json={"api_key": WORKSPACE_DEEPL_KEY, "base_url": workspace_deepl.url},
            headers=admin.headers,
        )
        gid = await _glossary(admin, TERMS)
        text = "Orange ships the release today"
        first = await _translate(admin, text, provider="deepl")
        # The pair travels as a DeepL glossary; the brand is protected as an ignored tag.
        [created] = workspace_deepl.requests_to("/v2/glossaries", "POST")
        assert created.body["entries"] == "release\tversión"
        assert (created.body["source_lang"], created.body["target_lang"]) == ("en", "es")
        [call] = workspace_deepl.requests_to("/v2/translate")
        assert call.body["glossary_id"] and call.body["source_lang"] == "EN"
        assert "Orange" not in call.body["text"][0]
        assert first["translated_text"] == "[ES] Orange SHIPS THE versión TODAY"
        assert (await _translate(admin, text, provider="deepl"))["cached"] is True

        edited = await admin.client.put(
            f"/api/v1/glossaries/{gid}",
            json={"entries": [{**TERMS[1], "target_term": "edición"}]},
            headers=admin.headers,
        )
        assert edited.json()["version"] == 2
        after = await _translate(admin, text, provider="deepl")
        assert after["cached"] is False
        assert after["translated_text"] == "[ES] ORANGE SHIPS THE edición TODAY"
        # The edit replaced the account's glossary: version 1 was deleted, not left behind.
        [current] = workspace_deepl.glossaries.values()
        assert current["entries"] == {"release": "edición"}
        assert len([r for r in workspace_deepl.received if r.method == "DELETE"]) == 1

        # Without any glossary, the plain translation is cached separately from both.
        await admin.client.delete(f"/api/v1/glossaries/{gid}", headers=admin.headers)
        bare = await _translate(admin, text, provider="deepl")
        assert (
            bare["cached"] is False
            and bare["translated_text"] == "[ES] ORANGE SHIPS THE RELEASE TODAY"
        )


async def test_channel_glossary_adds_to_and_overrides_the_workspace_one(
    sqlite_settings: Settings,
) -> None:
    server = ScriptedProvider()
    async with admin_app(with_encryption_key(sqlite_settings), [server]) as admin:
        await _glossary(admin, TERMS)
        await _glossary(
            admin,
            [
                {**TERMS[1], "target_term": "lanzamiento"},
                {"source_lang": "en", "source_term": "Kiwi"},
            ],
            name="Support room",
            channel_id="support",
        )
        text = "Kiwi and Orange release notes"
        # Scripted has no glossary support: the engine substitutes terms (⟦n⟧ sentinels).
        workspace = await _translate(admin, text)
        assert workspace["translated_text"] == "[es] Kiwi and Orange versión notes"
        assert server.calls[-1].texts == ("Kiwi and ⟦0⟧ ⟦1⟧ notes",)
        channel = await _translate(admin, text, channel_id="support")
        assert channel["translated_text"] == "[es] Kiwi and Orange lanzamiento notes"
        assert server.calls[-1].texts == ("⟦0⟧ and ⟦1⟧ ⟦2⟧ notes",)
        other_channel = await _translate(admin, text, channel_id="random")
        assert other_channel["translated_text"] == workspace["translated_text"]
        assert other_channel["cached"] is True

        batch = await admin.client.post(
            "/api/v1/translate/batch",
            json={"texts": [text], "target_langs": ["es"], "channel_id": "support"},
            headers=admin.headers,
        )
        assert batch.json()["translations"][0]["translated_text"] == channel["translated_text"]
