"""The console's routes without a browser: headers, refusals and redirects a browser hides."""

from __future__ import annotations

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
