"""Workspace provider keys through the admin API: sealed at rest, masked, never logged, and
actually used for the workspace's translations (a loopback DeepL that checks the key)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from service.db.models import AuditEntry, ProviderCredential
from service.db.session import create_engine, session_factory
from service.settings import Settings
from service.translation.providers.base import Tier
from tests.service.providers.fakes import DeepLFake
from tests.service.providers_config.support import (
    WORKSPACE_DEEPL_KEY,
    Admin,
    admin_app,
    with_encryption_key,
)
from tests.service.scripted import ScriptedProvider

OPENAI_KEY = "sk-proj-W0rkspaceOwnOpenAIkey0123456789abcd"


@pytest.fixture
async def admin(sqlite_settings: Settings) -> AsyncIterator[Admin]:
    server = ScriptedProvider("scripted", tier=Tier.BALANCED)
    async with admin_app(with_encryption_key(sqlite_settings), [server]) as running:
        yield running


async def _raw_rows(settings: Settings, model: type) -> list:  # type: ignore[type-arg]
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list(await session.scalars(sa.select(model)))
    finally:
        await engine.dispose()


async def _translate(admin: Admin, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    return await admin.client.post(
        "/api/v1/translate",
        json={"text": "Good morning team", "target_lang": "es", **body},
        headers=headers,
    )


async def test_workspace_key_is_sealed_masked_and_used_for_its_translations(
    admin: Admin, sqlite_settings: Settings, workspace_deepl: DeepLFake
) -> None:
    put = await admin.client.put(
        "/api/v1/providers/deepl",
        json={"api_key": WORKSPACE_DEEPL_KEY, "base_url": workspace_deepl.url},
        headers=admin.headers,
    )
    assert put.status_code == 200, put.text
    assert WORKSPACE_DEEPL_KEY not in put.text
    shown = put.json()
    assert shown["configured"] and shown["enabled"] and shown["source"] == "workspace"
    assert shown["key"] == "…f:fx" and shown["usable"] is True

    listing = await admin.client.get("/api/v1/providers", headers=admin.headers)
    assert WORKSPACE_DEEPL_KEY not in listing.text
    assert listing.json()["effective"] == ["deepl", "scripted"]

    [row] = await _raw_rows(sqlite_settings, ProviderCredential)
    assert WORKSPACE_DEEPL_KEY.encode() not in row.secret
    assert b"5b2f8c1e" not in row.secret and row.key_id

    translated = await _translate(admin, admin.headers, provider="deepl")
    assert translated.status_code == 200, translated.text
    assert translated.json()["provider"] == "deepl"
    assert translated.json()["translated_text"] == "[ES] GOOD MORNING TEAM"
    [call] = workspace_deepl.requests_to("/v2/translate")
    assert call.headers["authorization"] == f"DeepL-Auth-Key {WORKSPACE_DEEPL_KEY}"

    # The other workspace has no DeepL: its key is not shared.
    other = await _translate(admin, admin.other_headers, provider="deepl")
    assert other.status_code == 409 and other.json()["error"]["code"] == "provider_not_enabled"
    other_view = await admin.client.get("/api/v1/providers/deepl", headers=admin.other_headers)
    assert other_view.json()["configured"] is False and other_view.json()["key"] is None

    # Changing the URL keeps the stored key; deleting it takes effect at once.
    moved = await admin.client.put(
        "/api/v1/providers/deepl",
        json={"base_url": workspace_deepl.url + "/"},
        headers=admin.headers,
    )
    assert moved.status_code == 200 and moved.json()["key"] == "…f:fx"
    gone = await admin.client.delete("/api/v1/providers/deepl", headers=admin.headers)
    assert gone.status_code == 204
    after = await _translate(admin, admin.headers, provider="deepl", text="Another text")
    assert after.json()["error"]["code"] == "provider_not_enabled"
    again = await admin.client.delete("/api/v1/providers/deepl", headers=admin.headers)
    assert again.status_code == 404


async def test_keys_never_reach_logs_responses_or_the_audit_log(
    admin: Admin,
    sqlite_settings: Settings,
    workspace_deepl: DeepLFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "0000aaaa-1111-2222-3333-444455556666:fx"
    responses = [
        await admin.client.put(
            "/api/v1/providers/deepl",
            json={"api_key": wrong, "base_url": workspace_deepl.url},
            headers=admin.headers,
        ),
        # DeepL refuses the wrong key (403): logged as a provider failure, without the key.
        await _translate(admin, admin.headers, provider="deepl"),
        await admin.client.put(
            "/api/v1/providers/openai",
            json={"api_key": OPENAI_KEY, "base_url": "http://127.0.0.1:9", "model": "gpt-4.1-mini"},
            headers=admin.headers,
        ),
        await admin.client.put(
            "/api/v1/providers/deepl", json={"api_key": WORKSPACE_DEEPL_KEY}, headers=admin.headers
        ),
        await admin.client.get("/api/v1/providers", headers=admin.headers),
        await _translate(admin, admin.headers, provider="deepl", text="Fresh text"),
        await admin.client.put(
            "/api/v1/providers/openai",
            json={"api_key": "bad key with spaces"},
            headers=admin.headers,
        ),
    ]
    assert [r.status_code for r in responses] == [200, 503, 200, 200, 200, 200, 422]
    assert workspace_deepl.requests_to("/v2/translate")[0].headers["authorization"].endswith(wrong)
    for secret in (wrong, WORKSPACE_DEEPL_KEY, OPENAI_KEY, "bad key with spaces"):
        assert secret not in caplog.text
        assert all(secret not in r.text for r in responses)
    assert "deepl" in caplog.text  # the failure was logged, just not the key
    view = responses[4].json()
    assert {p["name"]: p["key"] for p in view["providers"] if p["configured"]} == {
        "deepl": "…f:fx",
        "openai": "sk-…abcd",
    }
    audit = await _raw_rows(sqlite_settings, AuditEntry)
    assert {a.action for a in audit} == {"providers.credential.put"}
    for entry in audit:
        text = repr((entry.before, entry.after))
        assert OPENAI_KEY not in text and WORKSPACE_DEEPL_KEY not in text and wrong not in text


async def test_enabled_providers_tier_and_server_fallback(
    admin: Admin, workspace_deepl: DeepLFake
) -> None:
    await admin.client.put(
        "/api/v1/providers/deepl",
        json={"api_key": WORKSPACE_DEEPL_KEY, "base_url": workspace_deepl.url},
        headers=admin.headers,
    )
    # Balanced (the server default) tries the balanced server engine first; premium, DeepL.
    cheap = await _translate(admin, admin.headers, text="One")
    assert cheap.json()["provider"] == "scripted"
    tier = await admin.client.put(
        "/api/v1/providers", json={"default_quality_tier": "premium"}, headers=admin.headers
    )
    assert tier.status_code == 200 and tier.json()["default_quality_tier"] == "premium"
    assert (await _translate(admin, admin.headers, text="Two")).json()["provider"] == "deepl"
    # A request's own tier still wins.
    explicit = await _translate(admin, admin.headers, text="Three", quality_tier="economy")
    assert explicit.json()["provider"] == "scripted"

    # Without fallback on the server's providers only the workspace's own remain.
    closed = await admin.client.put(
        "/api/v1/providers",
        json={"use_server_providers": False, "default_quality_tier": "economy"},
        headers=admin.headers,
    )
    assert closed.json()["effective"] == ["deepl"]
    assert (await _translate(admin, admin.headers, text="Four")).json()["provider"] == "deepl"
    # The other workspace is untouched.
    assert (await _translate(admin, admin.other_headers, text="Four")).json()[
        "provider"
    ] == "scripted"

    only = await admin.client.put(
        "/api/v1/providers",
        json={"use_server_providers": True, "enabled_providers": ["scripted"]},
        headers=admin.headers,
    )
    assert only.status_code == 200, only.text
    assert only.json()["effective"] == ["scripted"]
    pinned = await _translate(admin, admin.headers, text="Five", provider="deepl")
    assert pinned.json()["error"]["code"] == "provider_not_enabled"
    reset = await admin.client.put(
        "/api/v1/providers", json={"enabled_providers": None}, headers=admin.headers
    )
    assert reset.json()["effective"] == ["deepl", "scripted"]


BAD = [
    ("put", "/api/v1/providers/babelfish", {"api_key": "x" * 20}, 404, "not_found"),
    # A first configuration needs a key; once one is stored the same body is fine: 409.
    ("put", "/api/v1/providers/deepl", {}, 409, "api_key_required"),
    ("put", "/api/v1/providers/deepl", {"api_key": ""}, 422, "validation_error"),
    (
        "put",
        "/api/v1/providers/deepl",
        {"api_key": "k" * 20, "model": "x"},
        422,
        "validation_error",
    ),
    (
        "put",
        "/api/v1/providers/deepl",
        {"api_key": "k" * 20, "base_url": "ftp://x"},
        422,
        "validation_error",
    ),
    ("put", "/api/v1/providers/libretranslate", {"api_key": "k"}, 409, "base_url_required"),
    (
        "put",
        "/api/v1/providers/libretranslate",
        {"api_key": "k", "base_url": None},
        422,
        "base_url_required",
    ),
    ("put", "/api/v1/providers/deepl", {"api_key": "k" * 20, "shoe": 1}, 422, "validation_error"),
    ("put", "/api/v1/providers", {"enabled_providers": ["deepl", "nope"]}, 422, "unknown_provider"),
    ("put", "/api/v1/providers", {"default_quality_tier": "luxury"}, 422, "validation_error"),
    ("delete", "/api/v1/providers/openai", None, 404, "not_found"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD)
async def test_bad_configuration_is_refused(
    admin: Admin, method: str, path: str, body: object, status: int, code: str
) -> None:
    response = await admin.client.request(method.upper(), path, json=body, headers=admin.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_only_admins_see_or_change_providers(admin: Admin) -> None:
    bot = {"X-API-Key": admin.translate_key}
    for method, path in (("GET", "/api/v1/providers"), ("PUT", "/api/v1/providers/deepl")):
        response = await admin.client.request(method, path, json={"api_key": "k" * 20}, headers=bot)
        assert response.status_code == 403
    assert (await admin.client.get("/api/v1/providers")).status_code == 401


async def test_production_refuses_private_provider_urls() -> None:
    from service.accounts.providers import check_base_url
    from service.errors import ValidationFailed

    for url in (
        "http://api.example.com",
        "https://127.0.0.1",
        "https://10.0.0.5/v2",
        "https://localhost:8443",
        "https://[::1]",
        "https://metadata.internal",
    ):
        with pytest.raises(ValidationFailed):
            check_base_url(url, production=True)
    assert check_base_url("https://api.example.com/", production=True) == "https://api.example.com"
    assert check_base_url("http://127.0.0.1:5000", production=False) == "http://127.0.0.1:5000"


async def test_an_undecryptable_key_disables_the_provider_without_using_the_servers(
    sqlite_settings: Settings, workspace_deepl: DeepLFake
) -> None:
    import base64

    # The server has its own "deepl"; the workspace's key must never be swapped for it.
    server = [ScriptedProvider("deepl", tier=Tier.PREMIUM), ScriptedProvider("scripted")]
    async with admin_app(with_encryption_key(sqlite_settings), server) as admin:
        await admin.client.put(
            "/api/v1/providers/deepl",
            json={"api_key": WORKSPACE_DEEPL_KEY, "base_url": workspace_deepl.url},
            headers=admin.headers,
        )
    other_key = base64.b64encode(b"\x07" * 32).decode()
    async with admin_app(with_encryption_key(sqlite_settings, other_key), server) as admin:
        view = (await admin.client.get("/api/v1/providers/deepl", headers=admin.headers)).json()
        assert (view["configured"], view["usable"], view["key"], view["enabled"]) == (
            True,
            False,
            None,
            False,
        )
        refused = await _translate(admin, admin.headers, provider="deepl")
        assert refused.json()["error"]["code"] == "provider_not_enabled"
        assert server[0].calls == [] and workspace_deepl.received == []
        # Other workspaces still use the server's DeepL.
        other = await _translate(admin, admin.other_headers, provider="deepl")
        assert other.json()["provider"] == "deepl" and len(server[0].calls) == 1
