"""Issue 24, item 4: a principal that may change where a write-only secret is sent (a provider's
base_url, the workspace's rocketchat_url) must give the secret again, or it could send the
stored key to its own server without ever knowing it."""

from __future__ import annotations

from tests.security.conftest import Internal
from tests.service.usage.conftest import Starter

KEY = "deepl-secret-key-0123456789:fx"


async def test_a_new_provider_base_url_needs_the_key_again(
    start: Starter, internal: Internal
) -> None:
    app = await start()
    stored = await app.client.put(
        "/api/v1/providers/deepl", json={"api_key": KEY}, headers=app.headers
    )
    assert stored.status_code == 200, stored.text
    moved = await app.client.put(
        "/api/v1/providers/deepl", json={"base_url": internal.url}, headers=app.headers
    )
    assert moved.status_code == 409, moved.text
    assert moved.json()["error"]["code"] == "api_key_required"
    shown = (await app.client.get("/api/v1/providers/deepl", headers=app.headers)).json()
    assert shown["base_url"] is None
    # With the key, the admin may move it (they know what they send where).
    again = await app.client.put(
        "/api/v1/providers/deepl",
        json={"base_url": internal.url, "api_key": "another-key-0123456789:fx"},
        headers=app.headers,
    )
    assert again.status_code == 200, again.text
    # The model may still change without the key: it sends nothing anywhere new.
    model = await app.client.put(
        "/api/v1/providers/openai", json={"api_key": "sk-" + "a" * 30}, headers=app.headers
    )
    assert model.status_code == 200
    changed = await app.client.put(
        "/api/v1/providers/openai", json={"model": "gpt-4.1"}, headers=app.headers
    )
    assert changed.status_code == 200, changed.text
    assert internal.hits == []


async def test_a_new_rocketchat_url_needs_the_bot_token_again(
    start: Starter, internal: Internal
) -> None:
    app = await start()
    route = "/api/v1/workspaces/current/settings"
    first = await app.client.put(
        route,
        json={
            "rocketchat_url": "https://chat.example.com",
            "rocketchat_bot_user_id": "bot1",
            "rocketchat_bot_token": "bot-token-" + "x" * 20,
        },
        headers=app.headers,
    )
    assert first.status_code == 200, first.text
    moved = await app.client.put(route, json={"rocketchat_url": internal.url}, headers=app.headers)
    assert moved.status_code == 422, moved.text
    assert moved.json()["error"]["code"] == "rocketchat_bot_token_required"
    status = await app.client.get("/api/v1/integrations/rocketchat/status", headers=app.headers)
    assert status.json()["rocketchat_url"] == "https://chat.example.com"
    assert internal.hits == []
    cleared = await app.client.put(
        route,
        json={"rocketchat_url": internal.url, "rocketchat_bot_token": None},
        headers=app.headers,
    )
    assert cleared.status_code == 200, cleared.text
