"""Issue 24, item 4 and "Lower": a Rocket.Chat admin's 15-minute token cannot mint a key that
never expires, and an admin token's issue is audited with the Rocket.Chat that confirmed it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.service.accounts.conftest import Env, bearer


async def test_a_key_minted_with_a_user_token_expires_within_the_bound(env: Env) -> None:
    acme = await env.tenant("acme")
    boss = env.rc.add_user("BossUser01", roles=["user", "admin"])
    token = await env.login(acme, boss)
    route = "/api/v1/workspaces/current/keys"

    forever = await env.client.post(
        route, json={"name": "forever", "scopes": ["admin"]}, headers=bearer(token)
    )
    assert forever.status_code in (200, 201), forever.text
    expires = datetime.fromisoformat(forever.json()["api_key"]["expires_at"])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)

    long = await env.client.post(
        route,
        json={"name": "long", "scopes": ["admin"], "expires_in_days": 3650},
        headers=bearer(token),
    )
    assert long.status_code == 422, long.text
    # An admin API key (a credential an operator handed out) may still mint long-lived keys.
    by_key = await env.client.post(
        route, json={"name": "ci", "scopes": ["admin"]}, headers=acme.admin
    )
    assert by_key.status_code in (200, 201) and by_key.json()["api_key"]["expires_at"] is None


async def test_an_admin_token_is_audited_with_the_rocketchat_that_confirmed_it(env: Env) -> None:
    acme = await env.tenant("acme")
    boss = env.rc.add_user("BossUser02", roles=["user", "admin"])
    plain = env.rc.add_user("PlainUser02")
    await env.login(acme, boss)
    await env.login(acme, plain)
    log = await env.client.get("/api/v1/audit?action=auth.admin_token.issue", headers=acme.admin)
    [entry] = log.json()["entries"]
    assert entry["target"] == "user:BossUser02"
    assert entry["actor"] == f"api_key:{acme.admin_key_id}"
    assert entry["after"]["confirmed_by"] == env.rc.url
    assert entry["after"]["username"] == "bossuser02"
