"""The Rocket.Chat exchange, preferences, channel settings and roles checked with Rocket.Chat."""

from __future__ import annotations

import sqlalchemy as sa

from service.container import services_of
from service.db.models import AuditEntry, Glossary, User

from .conftest import BOT_ID, Env, bearer, error_code, error_fields


async def test_exchange_verifies_the_user_with_rocketchat(env: Env) -> None:
    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001", language="fr")
    response = await env.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": alice.id, "auth_token": alice.token},
        headers=acme.admin,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user_id"] == alice.id and body["username"] == "alice00001"
    assert body["role"] == "user" and body["target_lang"] == "fr"
    # Rocket.Chat was asked with the user's own credentials.
    [call] = env.rc.calls("me")
    assert call.headers["x-user-id"] == alice.id and call.headers["x-auth-token"] == alice.token

    me = await env.client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.json() == {
        "user_id": alice.id,
        "username": "alice00001",
        "workspace_id": str(acme.id),
        "role": "user",
    }
    # Headers work too, like Rocket.Chat's own REST API.
    again = await env.client.post(
        "/api/v1/auth/rocketchat",
        json={},
        headers={**acme.admin, "X-User-Id": alice.id, "X-Auth-Token": alice.token},
    )
    assert again.status_code == 201


async def test_exchange_refuses_what_rocketchat_does_not_confirm(env: Env) -> None:
    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001")
    bob = env.rc.add_user("Bob0000001")
    for user_id, token in [
        (alice.id, "wrong-token"),
        (alice.id, bob.token),  # someone else's token with Alice's id
        ("Nobody0001", alice.token),
    ]:
        refused = await env.client.post(
            "/api/v1/auth/rocketchat",
            json={"user_id": user_id, "auth_token": token},
            headers=acme.admin,
        )
        assert refused.status_code == 401, refused.text
        assert error_code(refused) == "invalid_rocketchat_credentials"
    missing = await env.client.post(
        "/api/v1/auth/rocketchat", json={"user_id": alice.id}, headers=acme.admin
    )
    # Missing credentials are a 401, as a missing API key is (the schema leaves both fields
    # optional: they may come as X-User-Id / X-Auth-Token instead).
    assert missing.status_code == 401, missing.text
    assert error_code(missing) == "missing_rocketchat_credentials"
    # A user token cannot mint further tokens: the exchange is the integration's, with its key.
    token = await env.login(acme, alice)
    self_service = await env.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": bob.id, "auth_token": bob.token},
        headers=bearer(token),
    )
    assert self_service.status_code == 403
    # Without a Rocket.Chat URL there is nobody to ask.
    bare = await env.tenant("bare", rocketchat=False)
    unconfigured = await env.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": alice.id, "auth_token": alice.token},
        headers=bare.admin,
    )
    assert unconfigured.status_code == 409
    assert error_code(unconfigured) == "rocketchat_not_configured"


async def test_exchange_reports_rocketchat_outages(env: Env) -> None:
    from tests.service.providers.fakes.base import Scripted

    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001")
    env.rc.enqueue(*[Scripted(status=503, body={"success": False})] * 3)
    down = await env.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": alice.id, "auth_token": alice.token},
        headers=acme.admin,
    )
    assert down.status_code == 503 and error_code(down) == "rocketchat_unavailable"
    assert len(env.rc.calls("me")) == 3  # first try and two retries


async def test_same_rocketchat_id_in_two_workspaces_are_two_users(env: Env) -> None:
    acme, globex = await env.tenant("acme"), await env.tenant("globex")
    alice = env.rc.add_user("Alice00001", language="de")
    in_acme, in_globex = await env.login(acme, alice), await env.login(globex, alice)
    await env.client.put(
        "/api/v1/me/preferences", json={"target_lang": "ja"}, headers=bearer(in_acme)
    )
    got = await env.client.get("/api/v1/me/preferences", headers=bearer(in_globex))
    assert got.json()["target_lang"] == "de"  # acme's choice does not leak into globex
    engine_users = await services_of(env.client.app).sessions().__aenter__()
    try:
        rows = (await engine_users.execute(sa.select(User.workspace_id))).scalars().all()
    finally:
        await engine_users.close()
    assert sorted(map(str, rows)) == sorted([str(acme.id), str(globex.id)])


async def test_preferences_default_from_rocketchat_then_english(env: Env) -> None:
    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001", language="pt-BR")
    bob = env.rc.add_user("Bob0000001")
    alices, bobs = await env.login(acme, alice), await env.login(acme, bob)

    got = await env.client.get("/api/v1/me/preferences", headers=bearer(alices))
    assert got.status_code == 200
    assert got.json() == {
        "target_lang": "pt-BR",
        "target_lang_source": "rocketchat",
        "enabled": True,
        "quality_tier": None,
        "show_original": True,
        "updated_at": None,
    }
    bob_prefs = (await env.client.get("/api/v1/me/preferences", headers=bearer(bobs))).json()
    assert bob_prefs["target_lang"] == "en" and bob_prefs["target_lang_source"] == "default"

    put = await env.client.put(
        "/api/v1/me/preferences",
        json={"target_lang": "zh-CN", "quality_tier": "premium", "show_original": False},
        headers=bearer(alices),
    )
    assert put.status_code == 200, put.text
    assert (
        put.json()["target_lang"] == "zh-Hans" and put.json()["target_lang_source"] == "preference"
    )
    assert put.json()["quality_tier"] == "premium" and put.json()["show_original"] is False
    # Only the fields given change; null goes back to the profile language.
    cleared = await env.client.put(
        "/api/v1/me/preferences", json={"target_lang": None}, headers=bearer(alices)
    )
    assert cleared.json()["target_lang"] == "pt-BR" and cleared.json()["quality_tier"] == "premium"

    for body, field, code in [
        ({"target_lang": "klingon"}, "target_lang", "unknown_language"),
        ({"quality_tier": "gold"}, "quality_tier", "validation_error"),
        ({"enabled": "yes"}, "enabled", "validation_error"),
    ]:
        bad = await env.client.put("/api/v1/me/preferences", json=body, headers=bearer(alices))
        assert bad.status_code == 422, body
        assert error_code(bad) == code
        assert error_fields(bad) == [field]
    # API keys act for no person.
    keyed = await env.client.get("/api/v1/me/preferences", headers=acme.admin)
    assert keyed.status_code == 403 and error_code(keyed) == "user_token_required"

    async with services_of(env.client.app).sessions() as session:
        actions = (
            await session.scalars(
                sa.select(AuditEntry.actor).where(AuditEntry.action == "user.preferences.update")
            )
        ).all()
    assert actions and set(actions) == {f"user:{alice.id}"}


async def test_channel_settings_roles_from_rocketchat(env: Env) -> None:
    acme = await env.tenant("acme")
    owner = env.rc.add_user("Owner00001")
    moderator = env.rc.add_user("Moder00001")
    member = env.rc.add_user("Membe00001")
    global_admin = env.rc.add_user("Admin00001", roles=["user", "admin"])
    env.rc.add_room("GENERAL", roles={owner.id: ["owner"], moderator.id: ["moderator"]})
    env.rc.add_room("SECRET", t="p", roles={owner.id: ["owner", "leader"]})
    tokens = {u.id: await env.login(acme, u) for u in (owner, moderator, member, global_admin)}

    defaults = await env.client.get("/api/v1/channels/GENERAL", headers=bearer(tokens[member.id]))
    assert defaults.status_code == 200
    assert defaults.json()["enabled"] is True and defaults.json()["delivery_mode"] == "thread"

    change = {"enabled": False, "blocked_langs": ["ru"], "delivery_mode": "attachment"}
    denied = await env.client.put(
        "/api/v1/channels/GENERAL", json=change, headers=bearer(tokens[member.id])
    )
    assert denied.status_code == 403 and error_code(denied) == "insufficient_role"
    for user in (owner, moderator, global_admin):
        allowed = await env.client.put(
            "/api/v1/channels/GENERAL", json=change, headers=bearer(tokens[user.id])
        )
        assert allowed.status_code == 200, (user.id, allowed.text)
    # Rocket.Chat was asked with the bot's credentials, never the user's.
    assert {c.headers["x-user-id"] for c in env.rc.calls("channels.roles")} == {BOT_ID}
    private = await env.client.put(
        "/api/v1/channels/SECRET", json={"context_enabled": False}, headers=bearer(tokens[owner.id])
    )
    assert private.status_code == 200 and private.json()["context_enabled"] is False
    assert env.rc.calls("groups.roles")
    # Admin API keys need no Rocket.Chat round trip.
    by_key = await env.client.put(
        "/api/v1/channels/NOT-IN-RC", json={"formality": "less"}, headers=acme.admin
    )
    assert by_key.status_code == 200
    missing_room = await env.client.put(
        "/api/v1/channels/NOROOM", json={"enabled": True}, headers=bearer(tokens[member.id])
    )
    assert missing_room.status_code == 404

    got = (await env.client.get("/api/v1/channels/GENERAL", headers=acme.admin)).json()
    assert got["enabled"] is False and got["blocked_langs"] == ["ru"]
    assert got["delivery_mode"] == "attachment"


async def test_channel_roles_are_cached_briefly(env: Env) -> None:
    acme = await env.tenant("acme")
    owner = env.rc.add_user("Owner00001")
    env.rc.add_room("GENERAL", roles={owner.id: ["owner"]})
    token = await env.login(acme, owner)
    for value in (True, False, True):
        response = await env.client.put(
            "/api/v1/channels/GENERAL", json={"enabled": value}, headers=bearer(token)
        )
        assert response.status_code == 200
    assert len(env.rc.calls("channels.roles")) == 1
    # Demoted in Rocket.Chat: still allowed until the cache entry expires, then refused.
    env.rc.rooms["GENERAL"].roles[owner.id] = []
    env.identity.roles._cache.clear()
    demoted = await env.client.put(
        "/api/v1/channels/GENERAL", json={"enabled": True}, headers=bearer(token)
    )
    assert demoted.status_code == 403


async def test_channel_settings_validation(env: Env) -> None:
    acme = await env.tenant("acme")
    globex = await env.tenant("globex")
    async with services_of(env.client.app).sessions.begin() as session:
        theirs = Glossary(workspace_id=globex.id, name="globex terms")
        ours = Glossary(workspace_id=acme.id, name="acme terms")
        session.add_all([theirs, ours])
    for body, field, status in [
        ({"allowed_langs": ["en", "xx"]}, "allowed_langs[1]", 422),
        ({"blocked_langs": "ru"}, "blocked_langs", 422),
        ({"max_cost_per_message": -1}, "max_cost_per_message", 422),
        ({"formality": "casual"}, "formality", 422),
        ({"delivery_mode": "email"}, "delivery_mode", 422),
        ({"glossary_id": "nope"}, "glossary_id", 422),
        ({"glossary_id": str(theirs.id)}, "glossary_id", 404),
    ]:
        bad = await env.client.put("/api/v1/channels/GENERAL", json=body, headers=acme.admin)
        assert bad.status_code == status, (body, bad.text)
        assert error_fields(bad) == [field]
    good = await env.client.put(
        "/api/v1/channels/GENERAL",
        json={"glossary_id": str(ours.id), "max_cost_per_message": 0.002, "allowed_langs": ["EN"]},
        headers=acme.admin,
    )
    assert good.status_code == 200, good.text
    assert good.json()["glossary_id"] == str(ours.id)
    assert good.json()["max_cost_per_message"] == 0.002 and good.json()["allowed_langs"] == ["en"]
    malformed_id = await env.client.get("/api/v1/channels/bad id!", headers=acme.admin)
    assert malformed_id.status_code == 404


async def test_rocketchat_admins_are_workspace_admins(env: Env) -> None:
    acme = await env.tenant("acme")
    boss = env.rc.add_user("Boss000001", roles=["user", "admin"])
    pleb = env.rc.add_user("Pleb000001")
    boss_token, pleb_token = await env.login(acme, boss), await env.login(acme, pleb)
    ok = await env.client.get("/api/v1/workspaces/current/settings", headers=bearer(boss_token))
    assert ok.status_code == 200
    assert (await env.client.get("/api/v1/audit", headers=bearer(boss_token))).status_code == 200
    for path in ("/api/v1/workspaces/current/settings", "/api/v1/audit", "/api/v1/workspaces"):
        denied = await env.client.get(path, headers=bearer(pleb_token))
        assert denied.status_code == 403, path
    # Not operators, though.
    listing = await env.client.get("/api/v1/workspaces", headers=bearer(boss_token))
    assert listing.status_code == 403


async def test_bad_bot_token_is_a_clear_error(env: Env) -> None:
    acme = await env.tenant("acme")
    member = env.rc.add_user("Membe00001")
    env.rc.add_room("GENERAL")
    token = await env.login(acme, member)
    await env.client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_bot_token": "revoked-in-rocketchat"},
        headers=acme.admin,
    )
    response = await env.client.put(
        "/api/v1/channels/GENERAL", json={"enabled": False}, headers=bearer(token)
    )
    assert response.status_code == 503
    assert error_code(response) == "rocketchat_bot_unauthorized"
    assert "revoked-in-rocketchat" not in response.text
