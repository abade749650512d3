"""Every /api/v1 route of one workspace, tried with another workspace's credentials.

Routes are enumerated from the app, so routes added later are covered without editing this
test. Path parameters and bodies carry the victim's ids; the attacker must never see the
victim's data, and the victim's state must be exactly as before.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlalchemy as sa

from service.container import services_of
from service.db import models

from .conftest import Env, Tenant, bearer

VICTIM = "acme-victim"
VICTIM_BOT = "AcmeBot001"
VICTIM_USER = "AliceVictim"
VICTIM_CHANNEL = "ACMEROOM"
VICTIM_COST = 0.424242
VICTIM_GLOSSARY = "acme-secret-glossary"


async def _snapshot(env: Env, workspace_id: uuid.UUID) -> dict[str, Any]:
    """Everything of the victim's that an attacker could try to read or change."""

    def rows(result: Any) -> list[tuple[Any, ...]]:
        return sorted((tuple(map(str, r)) for r in result), key=repr)

    async with services_of(env.client.app).sessions() as session:
        snap: dict[str, Any] = {}
        for model, column in [
            (models.Workspace, models.Workspace.id),
            (models.ApiKey, models.ApiKey.workspace_id),
            (models.WorkspaceSettings, models.WorkspaceSettings.workspace_id),
            (models.ChannelSettings, models.ChannelSettings.workspace_id),
            (models.User, models.User.workspace_id),
            (models.Glossary, models.Glossary.workspace_id),
            (models.ProviderCredential, models.ProviderCredential.workspace_id),
        ]:
            table = model.__table__
            # last_used_at moves when the victim itself calls; it is not the attacker's doing.
            columns = [c for c in table.columns if c.name not in ("last_used_at", "last_seen_at")]
            result = await session.execute(sa.select(*columns).where(column == workspace_id))
            snap[table.name] = rows(result)
        users = sa.select(models.User.id).where(models.User.workspace_id == workspace_id)
        prefs = await session.execute(
            sa.select(models.UserPreferences).where(models.UserPreferences.user_id.in_(users))
        )
        snap["user_preferences"] = rows(
            (p.user_id, p.target_lang, p.enabled, p.quality_tier, p.show_original, p.updated_at)
            for p in prefs.scalars()
        )
    return snap


def _routes(env: Env) -> list[tuple[str, str]]:
    found = []
    for route in env.client.app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for method in sorted(set(getattr(route, "methods", ())) - {"OPTIONS", "HEAD"}):
            found.append((method, route.path))
    return found


async def test_no_route_crosses_workspaces(env: Env) -> None:
    # The victim, with data in every corner.
    victim = await env.tenant(VICTIM)
    env.rc.add_user(VICTIM_BOT, roles=["bot"])
    await env.client.put(
        "/api/v1/workspaces/current/settings",
        json={
            "rocketchat_bot_user_id": VICTIM_BOT,
            "rocketchat_bot_token": env.rc.users[VICTIM_BOT].token,
            "languages": ["en", "es"],
        },
        headers=victim.admin,
    )
    await env.client.post("/api/v1/workspaces/current/webhook-token", headers=victim.admin)
    extra = await env.client.post(
        "/api/v1/workspaces/current/keys", json={"name": "victim-extra"}, headers=victim.admin
    )
    extra_key, extra_id = extra.json()["key"], extra.json()["api_key"]["id"]
    alice = env.rc.add_user(VICTIM_USER, language="es")
    alice_token = await env.login(victim, alice)
    await env.client.put(
        "/api/v1/me/preferences", json={"target_lang": "it"}, headers=bearer(alice_token)
    )
    await env.client.put(
        f"/api/v1/channels/{VICTIM_CHANNEL}",
        json={"max_cost_per_message": VICTIM_COST, "blocked_langs": ["ru"]},
        headers=victim.admin,
    )
    async with services_of(env.client.app).sessions.begin() as session:
        glossary = models.Glossary(workspace_id=victim.id, name=VICTIM_GLOSSARY)
        session.add(glossary)
    prefixes = [
        k["prefix"]
        for k in (
            await env.client.get("/api/v1/workspaces/current/keys", headers=victim.admin)
        ).json()["api_keys"]
    ]
    secrets_and_markers = [
        VICTIM,
        VICTIM_BOT,
        VICTIM_GLOSSARY,
        str(VICTIM_COST),
        alice.username,
        victim.admin_key,
        extra_key,
        alice_token,
        env.rc.users[VICTIM_BOT].token,
        *prefixes,
    ]
    before = await _snapshot(env, victim.id)

    # The attacker: a whole other workspace, with every kind of credential it can hold.
    attacker: Tenant = await env.tenant("globex-attacker")
    translate_key = (
        await env.client.post(
            "/api/v1/workspaces/current/keys", json={"name": "t"}, headers=attacker.admin
        )
    ).json()["key"]
    mallory = env.rc.add_user("Mallory001", roles=["user", "admin"])
    eve = env.rc.add_user("Eve0000001")

    async def credentials() -> dict[str, dict[str, str]]:
        # Fresh user tokens each time: some routes (revoke) legitimately end the caller's own.
        return {
            "admin key": attacker.admin,
            "translate key": {"X-API-Key": translate_key},
            "rocket.chat admin": bearer(await env.login(attacker, mallory)),
            "user": bearer(await env.login(attacker, eve)),
        }

    params = {
        "workspace_id": str(victim.id),
        "key_id": extra_id,
        "channel_id": VICTIM_CHANNEL,
        "glossary_id": str(glossary.id),
        "user_id": VICTIM_USER,
    }
    hostile_body = {
        "workspace_id": str(victim.id),
        "glossary_id": str(glossary.id),
        "channel_id": VICTIM_CHANNEL,
        "user_id": VICTIM_USER,
        "key_id": extra_id,
        "token": alice_token,
    }
    must_be_refused = ("workspace_id", "key_id", "glossary_id")

    routes = _routes(env)
    tried = 0
    problems: list[str] = []
    assert ("PUT", "/api/v1/channels/{channel_id:str}") in routes
    assert ("DELETE", "/api/v1/workspaces/{workspace_id:str}/keys/{key_id:str}") in routes
    for method, template in routes:
        names = re.findall(r"{(\w+)(?::\w+)?}", template)
        path = re.sub(
            r"{(\w+)(?::\w+)?}", lambda m: params.get(m.group(1), str(victim.id)), template
        )
        for who, headers in (await credentials()).items():
            for body in ({}, hostile_body):
                response = await env.client.request(
                    method,
                    path,
                    params={"workspace_id": str(victim.id)},
                    json=body,
                    headers=headers,
                )
                tried += 1
                where = f"{method} {template} as {who} with {sorted(body) or 'no body'}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code} {response.text[:200]}")
                problems.extend(
                    f"{where}: the victim's {marker!r} in {response.text[:300]}"
                    for marker in secrets_and_markers
                    if marker in response.text
                )
                refused = 400 <= response.status_code < 500
                if any(n in must_be_refused for n in names) and not refused:
                    # Refused one way or another (401/403/404, or a 4xx about the request).
                    problems.append(f"{where}: {response.status_code} {response.text[:200]}")
    assert tried >= len(routes) * 8
    assert not problems, "\n".join(problems)

    # The victim is untouched and all its credentials still work.
    assert await _snapshot(env, victim.id) == before
    assert (await env.client.get("/api/v1/me", headers=bearer(alice_token))).status_code == 200
    for key in (victim.admin_key, extra_key):
        ok = await env.client.get("/api/v1/languages", headers={"X-API-Key": key})
        assert ok.status_code == 200
