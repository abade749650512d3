"""Workspaces for the operator; keys, settings and the webhook token for workspace admins."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from service.db.models import ApiKey, AuditEntry, WorkspaceSettings
from service.db.session import create_engine, session_factory

from .conftest import Env, error_code


async def _db_rows(env: Env, query):  # type: ignore[no-untyped-def]
    engine = create_engine(env.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(query)).scalars())
    finally:
        await engine.dispose()


async def test_operator_manages_workspaces(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    listed = await env.client.get("/api/v1/workspaces", headers=env.operator)
    assert listed.status_code == 200
    assert {w["name"] for w in listed.json()["workspaces"]} == {"default", "acme"}

    # The admin key printed at creation works, and only for its own workspace.
    own = await env.client.get("/api/v1/workspaces/current", headers=acme.admin)
    assert own.status_code == 200 and own.json()["name"] == "acme"
    assert own.json()["id"] == str(acme.id)

    renamed = await env.client.patch(
        f"/api/v1/workspaces/{acme.id}", json={"name": "acme-corp"}, headers=env.operator
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "acme-corp"

    duplicate = await env.client.post(
        "/api/v1/workspaces", json={"name": "default"}, headers=env.operator
    )
    assert duplicate.status_code == 422 and error_code(duplicate) == "workspace_exists"
    blank = await env.client.post("/api/v1/workspaces", json={"name": "  "}, headers=env.operator)
    assert blank.status_code == 422 and blank.json()["error"]["details"]["field"] == "name"

    deleted = await env.client.delete(f"/api/v1/workspaces/{acme.id}", headers=env.operator)
    assert deleted.status_code == 204
    gone = await env.client.get(f"/api/v1/workspaces/{acme.id}", headers=env.operator)
    assert gone.status_code == 404
    # Its keys died with it, at once (no cache delay in the process that deleted it).
    after = await env.client.post(
        "/api/v1/translate", json={"text": "hi", "target_lang": "es"}, headers=acme.admin
    )
    assert after.status_code == 401 and error_code(after) == "invalid_api_key"

    # The deletion is on record even though the workspace is gone.
    audit = await _db_rows(
        env, sa.select(AuditEntry.action).where(AuditEntry.workspace_id == acme.id)
    )
    assert {"workspace.create", "workspace.rename", "workspace.delete"} <= set(audit)


async def test_admins_are_not_operators(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    for method, path, body in [
        ("GET", "/api/v1/workspaces", None),
        ("POST", "/api/v1/workspaces", {"name": "mine"}),
        ("PATCH", f"/api/v1/workspaces/{acme.id}", {"name": "x"}),
        ("DELETE", f"/api/v1/workspaces/{acme.id}", None),
    ]:
        response = await env.client.request(method, path, json=body, headers=acme.admin)
        assert response.status_code == 403, (method, path, response.text)
        assert error_code(response) == "insufficient_scope"


async def test_key_lifecycle_create_list_use_revoke(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    created = await env.client.post(
        "/api/v1/workspaces/current/keys",
        json={"name": "rocket.chat app", "scopes": ["translate"], "expires_in_days": 30},
        headers=acme.admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key, key_id = body["key"], body["api_key"]["id"]
    assert key.startswith("utp_") and body["api_key"]["scopes"] == ["translate"]
    assert body["api_key"]["expires_at"] is not None and body["api_key"]["status"] == "active"

    used = await env.client.post(
        "/api/v1/translate", json={"text": "Hello", "target_lang": "es"}, headers={"X-API-Key": key}
    )
    assert used.status_code == 200
    # A translate-only key cannot manage keys.
    denied = await env.client.get("/api/v1/workspaces/current/keys", headers={"X-API-Key": key})
    assert denied.status_code == 403

    listed = await env.client.get("/api/v1/workspaces/current/keys", headers=acme.admin)
    keys = {k["id"]: k for k in listed.json()["api_keys"]}
    assert set(keys) == {key_id, str(acme.admin_key_id)}
    assert key not in listed.text  # the secret is never shown again
    assert all("secret" not in k and "key" not in k for k in keys.values())

    revoked = await env.client.delete(
        f"/api/v1/workspaces/current/keys/{key_id}", headers=acme.admin
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = await env.client.post(
        "/api/v1/translate", json={"text": "Hello", "target_lang": "es"}, headers={"X-API-Key": key}
    )
    assert refused.status_code == 401 and error_code(refused) == "api_key_revoked"

    actions = await _db_rows(
        env, sa.select(AuditEntry.action).where(AuditEntry.workspace_id == acme.id)
    )
    assert actions.count("api_key.create") == 1 and "api_key.revoke" in actions


async def test_expired_key_is_refused(env: Env) -> None:
    from datetime import UTC, datetime, timedelta

    acme = await env.tenant("acme", rocketchat=False)
    created = await env.client.post(
        "/api/v1/workspaces/current/keys",
        json={"name": "short", "expires_in_days": 1},
        headers=acme.admin,
    )
    key, key_id = created.json()["key"], uuid.UUID(created.json()["api_key"]["id"])
    engine = create_engine(env.settings.database_url)
    async with session_factory(engine).begin() as session:
        await session.execute(
            sa.update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await engine.dispose()
    refused = await env.client.post(
        "/api/v1/translate", json={"text": "Hello", "target_lang": "es"}, headers={"X-API-Key": key}
    )
    assert refused.status_code == 401 and error_code(refused) == "api_key_expired"
    listed = await env.client.get("/api/v1/workspaces/current/keys", headers=acme.admin)
    assert {k["id"]: k["status"] for k in listed.json()["api_keys"]}[str(key_id)] == "expired"


async def test_operator_scope_cannot_be_granted_through_the_api(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    for scopes in (["operator"], ["translate", "operator"], ["root"], []):
        response = await env.client.post(
            "/api/v1/workspaces/current/keys",
            json={"name": "sneaky", "scopes": scopes},
            headers=acme.admin,
        )
        assert response.status_code == 422, scopes
        assert response.json()["error"]["details"]["field"] == "scopes"
    bad_expiry = await env.client.post(
        "/api/v1/workspaces/current/keys",
        json={"name": "k", "expires_in_days": 0},
        headers=acme.admin,
    )
    assert bad_expiry.status_code == 422
    assert bad_expiry.json()["error"]["details"]["field"] == "expires_in_days"


async def test_settings_are_validated_secrets_sealed_and_masked(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    bot_token = "bot-token-that-must-never-leak-0123456789"
    put = await env.client.put(
        "/api/v1/workspaces/current/settings",
        json={
            "rocketchat_url": "https://chat.acme.example/",
            "rocketchat_bot_user_id": "bot123",
            "rocketchat_bot_token": bot_token,
            "default_quality_tier": "premium",
            "languages": ["en", "ES", "pt_BR"],
            "message_retention_days": 7,
        },
        headers={**acme.admin, "X-Request-ID": "settings-change-1"},
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["rocketchat_url"] == "https://chat.acme.example"
    assert body["languages"] == ["en", "es", "pt-BR"]
    assert body["rocketchat_bot_token_set"] is True and body["message_retention_days"] == 7
    assert bot_token not in put.text

    got = await env.client.get("/api/v1/workspaces/current/settings", headers=acme.admin)
    assert got.json() == body

    # At rest the token is sealed, not stored as is; the bot credentials still open it.
    [sealed] = await _db_rows(
        env,
        sa.select(WorkspaceSettings.rocketchat_bot_token).where(
            WorkspaceSettings.workspace_id == acme.id
        ),
    )
    assert bot_token.encode() not in sealed
    bot = await env.identity.roles.bot(acme.id)
    assert bot is not None and bot.user_id == "bot123"
    assert bot_token not in repr(bot)

    for field, value, code in [
        ("rocketchat_url", "ftp://chat", "validation_error"),
        ("rocketchat_url", "https://user:pw@chat.example", "validation_error"),
        ("default_quality_tier", "luxury", "validation_error"),
        ("languages", ["en", "klingon"], "unknown_language"),
        ("message_retention_days", -1, "validation_error"),
        ("message_retention_days", 100000, "validation_error"),
    ]:
        bad = await env.client.put(
            "/api/v1/workspaces/current/settings", json={field: value}, headers=acme.admin
        )
        assert bad.status_code == 422, (field, value, bad.text)
        assert error_code(bad) == code
        assert bad.json()["error"]["details"]["field"].startswith(field)
    unknown = await env.client.put(
        "/api/v1/workspaces/current/settings", json={"surprise": 1}, headers=acme.admin
    )
    assert unknown.status_code == 422

    # The audit entry names who, what, before/after (token masked) and the request id.
    [entry] = await _db_rows(
        env,
        sa.select(AuditEntry).where(
            AuditEntry.workspace_id == acme.id, AuditEntry.action == "workspace.settings.update"
        ),
    )
    assert entry.actor == f"api_key:{acme.admin_key_id}"
    assert entry.request_id == "settings-change-1"
    assert entry.after["rocketchat_bot_token"] == "********"
    assert entry.before["rocketchat_bot_token"] is None
    assert entry.after["default_quality_tier"] == "premium"
    assert bot_token not in str(entry.before) + str(entry.after)


async def test_webhook_token_is_shown_once_and_stored_as_a_digest(env: Env) -> None:
    import hashlib

    from service.accounts.workspaces import check_webhook_token

    acme = await env.tenant("acme", rocketchat=False)
    first = await env.client.post("/api/v1/workspaces/current/webhook-token", headers=acme.admin)
    assert first.status_code == 201
    token = first.json()["webhook_token"]
    settings = await env.client.get("/api/v1/workspaces/current/settings", headers=acme.admin)
    assert settings.json()["webhook_token_set"] is True and token not in settings.text
    [stored] = await _db_rows(
        env,
        sa.select(WorkspaceSettings.webhook_token_hash).where(
            WorkspaceSettings.workspace_id == acme.id
        ),
    )
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    engine = create_engine(env.settings.database_url)
    async with session_factory(engine)() as session:
        assert await check_webhook_token(session, acme.id, token)
        assert not await check_webhook_token(session, acme.id, token + "x")
    await engine.dispose()
    second = await env.client.post("/api/v1/workspaces/current/webhook-token", headers=acme.admin)
    assert second.json()["webhook_token"] != token


async def test_audit_log_is_readable_by_admins_only_newest_first(env: Env) -> None:
    acme = await env.tenant("acme", rocketchat=False)
    await env.client.put(
        "/api/v1/workspaces/current/settings",
        json={"default_quality_tier": "economy"},
        headers=acme.admin,
    )
    await env.client.put(
        "/api/v1/workspaces/current/settings",
        json={"default_quality_tier": "premium"},
        headers=acme.admin,
    )
    log = await env.client.get("/api/v1/audit", headers=acme.admin)
    assert log.status_code == 200, log.text
    entries = log.json()["entries"]
    updates = [e for e in entries if e["action"] == "workspace.settings.update"]
    assert [u["after"]["default_quality_tier"] for u in updates] == ["premium", "economy"]
    assert updates[0]["before"] == {"default_quality_tier": "economy"}
    assert entries[-1]["action"] == "workspace.create"
    assert acme.admin_key not in log.text

    page = await env.client.get("/api/v1/audit?limit=1", headers=acme.admin)
    assert len(page.json()["entries"]) == 1 and page.json()["next_before"]
    filtered = await env.client.get("/api/v1/audit?action=workspace.create", headers=acme.admin)
    assert [e["action"] for e in filtered.json()["entries"]] == ["workspace.create"]

    translate_key = (
        await env.client.post(
            "/api/v1/workspaces/current/keys", json={"name": "t"}, headers=acme.admin
        )
    ).json()["key"]
    denied = await env.client.get("/api/v1/audit", headers={"X-API-Key": translate_key})
    assert denied.status_code == 403
    # Only operators may read another workspace's log.
    other = await env.client.get(
        "/api/v1/audit",
        params={"workspace_id": str(acme.id)},
        headers={"X-API-Key": env.default_key},
    )
    assert other.status_code == 404
    as_operator = await env.client.get(
        "/api/v1/audit", params={"workspace_id": str(acme.id)}, headers=env.operator
    )
    assert as_operator.status_code == 200 and as_operator.json()["entries"]
