"""The console's routes without a browser: headers, refusals and redirects a browser hides."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
import sqlalchemy as sa

from service.container import services_of
from service.db.models import Base
from tests.service.accounts.fake_rocketchat import LOGGED_OUT, LOGIN_REQUIRED, RocketChatFake

from .conftest import Console


async def signed_in(console: Console) -> dict[str, str]:
    """The session cookie as a header (httpx keeps a Secure cookie from plain-http hosts)."""
    client = console.app.client
    answer = await client.post(
        "/console/sign-in",
        data={"method": "key", "api_key": console.app.key},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/usage"
    assert "HttpOnly" in answer.headers["set-cookie"]
    assert "Secure" in answer.headers["set-cookie"]  # outside development
    assert "samesite=strict" in answer.headers["set-cookie"].lower()
    return {"Cookie": f"utp_console={answer.cookies['utp_console']}"}


async def test_console_headers_static_files_and_unknown_pages(console: Console) -> None:
    client = console.app.client
    page = await client.get("/console/sign-in")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    [csp] = page.headers.get_list("content-security-policy")
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    # The API keeps its own, stricter policy.
    api = await client.get("/api/v1/budgets", headers=console.app.headers)
    assert api.headers["content-security-policy"].startswith("default-src 'none'; frame")

    script = await client.get("/console/static/console.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "X-CSRF-Token" in script.text
    assert (await client.get("/console/static/secrets.txt")).status_code == 404
    # Not signed in: every page leads to the sign-in page.
    for path in ("/console/usage", "/console/keys", "/console/nope"):
        answer = await client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    assert (await client.get("/console")).headers["location"] == "/console/usage"

    cookies = await signed_in(console)
    assert (await client.get("/console/sign-in", headers=cookies)).status_code == 303
    missing = await client.get("/console/nope", headers=cookies)
    assert missing.status_code == 404 and "No such page" in missing.text
    usage = await client.get("/console/usage", headers=cookies)
    assert usage.status_code == 200 and usage.headers["cache-control"] == "no-store"
    assert 'value="2026-11-01"' in usage.text  # the range starts on the clock's month


async def channels_page(console: Console) -> tuple[str, dict[str, str]]:
    """The channels page's channel form, and the headers its script sends (cookie, CSRF)."""
    cookie = await signed_in(console)
    page = await console.app.client.get("/console/channels", headers=cookie)
    assert page.status_code == 200
    form = page.text[page.text.index('<form id="channel-form"') :]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    return form[: form.index("</form>")], {**cookie, "X-CSRF-Token": token[1]}


async def save_channel_field(
    console: Console, headers: dict[str, str], field: str, value: str | None
) -> None:
    """The form's PUT as the page's script makes it, then the value read back by API key."""
    client = console.app.client
    saved = await client.put(
        "/api/v1/channels/GENERAL",
        json={"enabled": True, "delivery_mode": "thread", field: value},
        headers=headers,
    )
    assert saved.status_code == 200 and saved.json()[field] == value
    read = await client.get("/api/v1/channels/GENERAL", headers=console.app.headers)
    assert read.json()[field] == value


async def test_the_channels_page_sets_and_clears_a_channels_formality(console: Console) -> None:
    form, headers = await channels_page(console)
    select = re.search(r'<select name="formality">(.*?)</select>', form)
    assert select is not None
    options = re.findall(r'<option value="([^"]*)">', select[1])
    assert options == ["", "more", "less", "default"]  # "" is no preference: saved as null
    assert "only DeepL and the LLMs" in form
    for value in ("more", "less", "default", None):
        await save_channel_field(console, headers, "formality", value)


async def test_the_channels_page_attaches_and_clears_a_channels_glossary(
    console: Console,
) -> None:
    client = console.app.client
    form, headers = await channels_page(console)
    select = re.search(
        r'<label>Glossary<select name="glossary_id">(.*?)</select>(.*?)</label>', form
    )
    assert select is not None
    assert select[1] == '<option value="">none</option>'  # the script adds the glossaries
    assert "over workspace-wide terms" in select[2]
    # What the page's script does: list the glossaries and PUT the chosen one's id, then null.
    made = await client.post("/api/v1/glossaries", json={"name": "brand"}, headers=headers)
    assert made.status_code == 201
    listed = await client.get("/api/v1/glossaries", headers=headers)
    assert listed.status_code == 200
    [brand] = [g["id"] for g in listed.json()["glossaries"] if g["name"] == "brand"]
    for value in (brand, None):
        await save_channel_field(console, headers, "glossary_id", value)


async def test_sign_in_from_another_site_is_refused(console: Console) -> None:
    client = console.app.client
    form = {"method": "key", "api_key": console.app.key}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        answer = await client.post("/console/sign-in", data=form, headers=headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers
    same = await client.post(
        "/console/sign-in", data=form, headers={"Origin": str(client.base_url).rstrip("/")}
    )
    assert same.status_code == 303


async def test_rocketchat_sign_in_errors_are_shown(console: Console) -> None:
    client = console.app.client
    form = {"method": "rocketchat", "workspace": "nowhere", "user_id": "u1", "auth_token": "t"}
    unknown = await client.post("/console/sign-in", data=form)
    assert unknown.status_code == 401 and "no such workspace" in unknown.text
    assert 'value="nowhere"' in unknown.text  # what was typed stays
    # The default workspace has no Rocket.Chat URL yet: said so, not a server error.
    form["workspace"] = str(console.app.workspace_id)
    unset = await client.post("/console/sign-in", data=form)
    assert unset.status_code == 409 and "no Rocket.Chat URL" in unset.text


async def test_sign_out_without_a_session_just_clears_the_cookie(console: Console) -> None:
    answer = await console.app.client.post("/console/sign-out")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    assert (
        'utp_console=""' in answer.headers["set-cookie"]
        or "Max-Age=0" in (answer.headers["set-cookie"])
    )


async def test_a_session_ends_with_the_key_it_was_opened_with(console: Console) -> None:
    client = console.app.client
    created = await client.post(
        "/api/v1/workspaces/current/keys",
        json={"name": "laptop", "scopes": ["admin"]},
        headers=console.app.headers,
    )
    key, key_id = created.json()["key"], created.json()["api_key"]["id"]
    answer = await client.post("/console/sign-in", data={"method": "key", "api_key": key})
    assert answer.status_code == 303
    cookie = {"Cookie": f"utp_console={answer.cookies['utp_console']}"}
    assert (await client.get("/api/v1/budgets", headers=cookie)).status_code == 200
    revoked = await client.delete(
        f"/api/v1/workspaces/current/keys/{key_id}", headers=console.app.headers
    )
    assert revoked.status_code == 200
    ended = await client.get("/api/v1/budgets", headers=cookie)
    assert ended.status_code == 401 and ended.json()["error"]["code"] == "session_expired"
    assert (await client.get("/console/usage", headers=cookie)).status_code == 303
    # A cookie no session could have is no identity either.
    forged = await client.get("/api/v1/budgets", headers={"Cookie": "utp_console=" + "x" * 200})
    assert forged.status_code == 401


async def test_a_rocketchat_sign_in_keeps_the_admins_token_and_leaves_it_to_them(
    console: Console, rocketchat: RocketChatFake, caplog: pytest.LogCaptureFixture
) -> None:
    """Signing in and out with a personal access token neither keeps it nor logs it out.

    Rocket.Chat's logout deletes the token it is called with, so a console that "revoked" it
    on sign-in or sign-out would delete the admin's personal access token (sessions.close_session).
    """
    client = console.app.client
    saved = await client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_url": rocketchat.url},
        headers=console.app.headers,
    )
    assert saved.status_code == 200
    admin = rocketchat.add_user("AdminUser01", roles=["admin", "user"])
    caplog.set_level(logging.DEBUG)
    form = {
        "method": "rocketchat",
        "workspace": "default",
        "user_id": admin.id,
        "auth_token": admin.token,
    }
    signed = await client.post("/console/sign-in", data=form)
    assert signed.status_code == 303 and signed.headers["location"] == "/console/usage"
    cookie = {"Cookie": f"utp_console={signed.cookies['utp_console']}"}
    assert rocketchat.calls("me")  # Rocket.Chat said who the token is

    stored = await _every_row(console)
    assert "AdminUser01" in stored  # the dump sees the sign-in (session, audit, user)...
    assert admin.token not in stored  # ...and not the token

    page = await client.get("/console/usage", headers=cookie)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf is not None
    out = await client.post("/console/sign-out", data={"csrf_token": csrf[1]}, headers=cookie)
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert (await client.get("/api/v1/budgets", headers=cookie)).status_code == 401

    assert not rocketchat.calls("logout")
    assert rocketchat.is_live(admin.id, admin.token)  # the admin's token still works
    assert caplog.records and admin.token not in caplog.text

    # What a logout would have done: the admin's token gone for good at Rocket.Chat.
    headers = {"X-User-Id": admin.id, "X-Auth-Token": admin.token}
    async with httpx.AsyncClient(base_url=rocketchat.url) as rc:
        logged_out = await rc.post("/api/v1/logout", headers=headers)
        assert (logged_out.status_code, logged_out.json()) == LOGGED_OUT
        again = await rc.post("/api/v1/logout", headers=headers)
        assert (again.status_code, again.json()) == LOGIN_REQUIRED
    assert not rocketchat.is_live(admin.id, admin.token)


async def _every_row(console: Console) -> str:
    """Every row of every table, as text."""
    rows: list[str] = []
    async with services_of(console.app.litestar).sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows.extend(str(tuple(row)) for row in await session.execute(sa.select(table)))
    return "\n".join(rows)
