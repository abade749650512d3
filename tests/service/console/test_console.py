"""The web console in a real browser: sign-in, each page's main action, CSRF, tenancy, expiry."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.usage.recorder import Event
from tests.service.accounts.fake_rocketchat import RocketChatFake

from .conftest import NOW, Console, artifact_dir

PROVIDERS = ("deepl", "openai", "google")
PAIRS = ("es", "fr", "de")


async def seed_usage(console: Console) -> None:
    """Two weeks of translations: more each day, across providers, pairs, channels, users."""
    recorder = console.app.services.recorder
    for day in range(14):
        when = NOW - timedelta(days=13 - day)
        for n in range(3 + day):
            recorder.record(
                Event(
                    workspace_id=console.app.workspace_id,
                    source_lang="en",
                    target_lang=PAIRS[n % 3],
                    user_id=("alice", "bob", "carol")[n % 3],
                    channel_id=("GENERAL", "support")[n % 2],
                    provider=PROVIDERS[n % 3],
                    outcome="cached" if n % 4 == 0 else "translated",
                    cache_hit=n % 4 == 0,
                    characters=40 + 10 * n,
                    cost=Decimal("0.0005") * (n + 1),
                    latency_ms=30,
                    created_at=when,
                )
            )
    await recorder.drain()


async def sign_in(browser: Any, console: Console, key: str | None = None) -> Any:
    page = await browser.new_page()
    await page.goto(console.url + "/console")
    assert page.url.endswith("/console/sign-in")
    await page.get_by_label("API key").fill(key or console.app.key)
    await page.get_by_role("button", name="Sign in").first.click()
    await page.wait_for_url(re.compile(r".*/console/usage$"))
    return page


async def open_page(page: Any, name: str) -> None:
    """Follow a link of the console's menu and wait until the page has its data."""
    link = page.get_by_role("link", name=name, exact=True)
    href = await link.get_attribute("href")
    await link.click()
    await page.wait_for_url(f"**{href}")
    await page.locator("body[data-loaded]").wait_for(state="attached")


async def read_text(path: Path) -> str:
    return await asyncio.to_thread(Path(path).read_text)


async def csrf_of(page: Any) -> str:
    token: str = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    return token


async def read_channel(console: Console, channel_id: str) -> dict[str, Any]:
    """The channel's settings as the API gives them to an API key."""
    answer = await console.app.client.get(
        f"/api/v1/channels/{channel_id}", headers=console.app.headers
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def create_glossary(console: Console, name: str, channel_id: str | None) -> str:
    """A glossary made with the API key; its id."""
    answer = await console.app.client.post(
        "/api/v1/glossaries",
        json={"name": name, "channel_id": channel_id},
        headers=console.app.headers,
    )
    assert answer.status_code == 201
    glossary_id: str = answer.json()["id"]
    return glossary_id


async def test_usage_page_charts_budget_and_csv_and_screenshot(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    await seed_usage(console)
    budget = await console.app.client.put(
        "/api/v1/budgets",
        json={"scope": "workspace", "monthly_limit": "0.60", "soft_limit_ratio": 0.8},
        headers=console.app.headers,
    )
    assert budget.status_code == 200

    page = await sign_in(browser, console)
    cookies = {c["name"]: c for c in await browser.cookies()}
    session = cookies["utp_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    response = await page.reload()
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    await page.get_by_role("status").filter(has_text="translations").wait_for()
    status = await page.get_by_role("status").inner_text()
    # 3+4+...+16 = 133 translations over the two weeks, all inside November so far.
    assert "133 translations" in status
    charts = page.locator("#usage-charts figure")
    assert await charts.count() == 4
    cost_chart = page.get_by_role("img", name=re.compile("^Cost to date"))
    assert await cost_chart.locator("line.hard").count() == 1
    assert await cost_chart.locator("line.soft").count() == 1
    assert "hard limit $0.60" in (await cost_chart.text_content() or "")
    by_provider = page.get_by_role("img", name=re.compile("^Translations by provider"))
    assert "deepl" in (await by_provider.get_attribute("aria-label") or "")
    assert await page.locator("#usage-breakdown figure").count() == 8
    assert "of $0.60 this month" in await page.locator("#usage-budget").inner_text()

    # A narrower range redraws everything from the API.
    await page.get_by_label("From", exact=True).fill("2026-11-16")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_role("status").filter(has_text="16 translations").wait_for()

    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download CSV").click()
    download = await waiting.value
    rows = list(csv.DictReader(io.StringIO(await read_text(await download.path()))))
    assert [r["day"] for r in rows] == ["2026-11-16"] and rows[0]["translations"] == "16"

    await page.get_by_label("From", exact=True).fill("2026-11-01")
    await page.get_by_role("button", name="Show").click()
    await page.get_by_role("status").filter(has_text="133 translations").wait_for()
    shot = artifact_dir(tmp_path) / "console-usage.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UTP_WRITE_DOCS_SCREENSHOT"):
        shutil.copy(shot, Path(__file__).parents[3] / "docs" / "console-usage.png")

    # A phone's width: the same page, nothing wider than the screen.
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_a_change_without_the_csrf_token_is_refused(console: Console, browser: Any) -> None:
    page = await sign_in(browser, console)
    body = {"scope": "workspace", "monthly_limit": "5"}
    refused = await page.request.put(console.url + "/api/v1/budgets", data=body)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "csrf_token_invalid"
    wrong = await page.request.put(
        console.url + "/api/v1/budgets", data=body, headers={"X-CSRF-Token": "guess"}
    )
    assert wrong.status == 403
    # Reading needs no token; the right token makes the change.
    assert (await page.request.get(console.url + "/api/v1/budgets")).status == 200
    done = await page.request.put(
        console.url + "/api/v1/budgets", data=body, headers={"X-CSRF-Token": await csrf_of(page)}
    )
    assert done.status == 200
    # Bearer keys are unaffected: no cookie session, no token needed.
    with_key = await console.app.client.put(
        "/api/v1/budgets", json=body, headers=console.app.headers
    )
    assert with_key.status_code == 200
    # Signing out needs the token too: a forged sign-out form does nothing.
    forged = await page.request.post(
        console.url + "/console/sign-out", form={"csrf_token": "nope"}, max_redirects=0
    )
    assert forged.status == 403
    assert (await page.request.get(console.url + "/api/v1/budgets")).status == 200


async def test_another_workspace_is_invisible(console: Console, browser: Any) -> None:
    other_key, other_id = await console.app.tenant("rival")
    created = await console.app.client.post(
        "/api/v1/glossaries", json={"name": "rival-secret-terms"}, headers={"X-API-Key": other_key}
    )
    assert created.status_code == 201
    page = await sign_in(browser, console)
    await page.goto(console.url + "/console/glossaries")
    await page.locator("#glossaries tbody").get_by_text("None yet.").wait_for()
    assert "rival-secret-terms" not in await page.content()
    await page.goto(console.url + "/console/keys")
    await page.locator("#keys tbody tr").first.wait_for()
    assert await page.locator("#keys tbody tr").count() == 1  # this workspace's admin key only
    foreign = await page.request.get(f"{console.url}/api/v1/workspaces/{other_id}/keys")
    assert foreign.status == 404
    assert (await foreign.json())["error"]["code"] == "not_found"


async def test_keys_are_created_once_and_revoked(console: Console, browser: Any) -> None:
    page = await sign_in(browser, console)
    await open_page(page, "API keys")
    await page.get_by_label("Name").fill("rocketchat-lt")
    await page.get_by_label("Expires in (days)").fill("30")
    await page.get_by_label("read:usage").check()
    await page.get_by_role("button", name="Create key").click()
    shown = page.locator("#key-value").filter(has_text="utp_")
    await shown.wait_for()
    key = await shown.inner_text()
    assert key.startswith("utp_")
    row = page.locator("#keys tbody tr", has_text="rocketchat-lt")
    assert "translate read:usage" in await row.inner_text()
    # The key works with curl's headers, for what its scopes allow.
    usage = await console.app.client.get("/api/v1/usage", headers={"X-API-Key": key})
    assert usage.status_code == 200
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Revoke rocketchat-lt").click()
    await row.get_by_text("revoked").wait_for()
    refused = await console.app.client.get("/api/v1/usage", headers={"X-API-Key": key})
    assert refused.status_code == 401
    # Reloaded, the key is listed without its secret.
    await page.reload()
    await page.locator("#keys tbody tr", has_text="rocketchat-lt").wait_for()
    assert key not in await page.content()


async def test_try_budgets_audit_and_channels(console: Console, browser: Any) -> None:
    page = await sign_in(browser, console)
    await open_page(page, "Try it")
    await page.get_by_label("Message").fill("good morning @alice, see `make run` :smile:")
    await page.get_by_label("Translate into").fill("fr")
    await page.get_by_role("button", name="Translate").click()
    facts = page.locator("#try-facts")
    await facts.get_by_text("scripted").wait_for()
    text = await facts.inner_text()
    assert "en → fr" in text and "$" in text
    assert "@alice kept, `make run` kept, :smile: kept" in text

    await open_page(page, "Budgets")
    await page.get_by_label("Monthly limit (USD)").fill("25")
    await page.get_by_role("button", name="Save budget").click()
    await page.locator("#budgets tbody tr", has_text="$25.00").wait_for()
    await page.get_by_role("button", name="Remove workspace budget").click()
    await page.locator("#budgets tbody").get_by_text("None yet.").wait_for()

    brand = await create_glossary(console, "brand", None)
    support = await create_glossary(console, "support terms", "support")
    await open_page(page, "Channels")
    await page.get_by_label("Rocket.Chat room id").fill("GENERAL")
    await page.get_by_role("button", name="Open").click()
    await page.locator("#channel-form").wait_for()  # shown once filled from the API
    formality = page.get_by_label("Formality")
    glossary = page.get_by_label("Glossary")
    assert await formality.input_value() == ""  # no preference yet
    assert await glossary.input_value() == ""  # none yet
    assert await glossary.locator("option").all_text_contents() == [
        "none",
        "brand (whole workspace)",
        "support terms (channel support)",
    ]
    await page.get_by_label("Blocked languages").fill("de, it")
    await page.get_by_label("Translation enabled").uncheck()
    await formality.select_option(label="less formal")
    await glossary.select_option(label="support terms (channel support)")
    await page.get_by_role("button", name="Save channel").click()
    await page.get_by_role("status").filter(has_text="Channel GENERAL saved").wait_for()
    channel = await read_channel(console, "GENERAL")
    assert channel["enabled"] is False and channel["blocked_langs"] == ["de", "it"]
    assert channel["formality"] == "less" and channel["glossary_id"] == support
    # Set elsewhere, they show when the channel is opened; "no preference" and "none" clear them.
    changed = await console.app.client.put(
        "/api/v1/channels/GENERAL",
        json={"formality": "more", "glossary_id": brand},
        headers=console.app.headers,
    )
    assert changed.status_code == 200
    await page.get_by_role("button", name="Open").click()
    # (A locator, not wait_for_function: the page's CSP forbids the eval it polls with.)
    await formality.locator("option[value=more]:checked").wait_for(state="attached")
    assert await glossary.input_value() == brand
    await formality.select_option(label="no preference")
    await glossary.select_option(label="none")
    await page.get_by_role("button", name="Save channel").click()
    await page.get_by_role("status").filter(has_text="Channel GENERAL saved").wait_for()
    channel = await read_channel(console, "GENERAL")
    assert channel["formality"] is None and channel["blocked_langs"] == ["de", "it"]
    assert channel["glossary_id"] is None
    # The channel's glossary deleted since: the page says so, and saving keeps it until the
    # admin chooses another (or none) rather than clearing it unasked.
    changed = await console.app.client.put(
        "/api/v1/channels/GENERAL", json={"glossary_id": support}, headers=console.app.headers
    )
    assert changed.status_code == 200
    deleted = await console.app.client.delete(
        f"/api/v1/glossaries/{support}", headers=console.app.headers
    )
    assert deleted.status_code == 204
    await page.get_by_role("button", name="Open").click()
    shown = glossary.locator("option:checked", has_text="deleted glossary")
    await shown.wait_for(state="attached")
    assert await glossary.input_value() == support
    await page.get_by_label("Blocked languages").fill("de")
    await page.get_by_role("button", name="Save channel").click()
    await page.get_by_role("status").filter(has_text="Channel GENERAL saved").wait_for()
    channel = await read_channel(console, "GENERAL")
    assert channel["blocked_langs"] == ["de"] and channel["glossary_id"] == support
    await glossary.select_option(label="none")
    await page.get_by_role("button", name="Save channel").click()
    # Saved, the form is filled again from the answer: the deleted glossary's option is gone.
    await glossary.locator("option", has_text="deleted glossary").wait_for(state="detached")
    assert (await read_channel(console, "GENERAL"))["glossary_id"] is None

    await open_page(page, "Audit log")
    audit = page.locator("#audit tbody")
    await audit.get_by_text("budget.delete").wait_for()
    entries = await audit.inner_text()
    assert "budget.set" in entries and "console.sign_in" in entries


async def test_glossary_terms_import_errors_and_export(console: Console, browser: Any) -> None:
    page = await sign_in(browser, console)
    await open_page(page, "Glossaries")
    await page.get_by_label("New glossary name").fill("brand")
    await page.get_by_role("button", name="Create").click()
    await page.get_by_role("heading", name="Terms of brand").wait_for()
    await page.get_by_role("button", name="Add term").click()
    row = page.locator("#terms tbody tr").last
    await row.get_by_label("Source language").fill("en")
    await row.get_by_label("Term", exact=True).fill("Rocket.Chat")
    await page.get_by_role("button", name="Save terms").click()
    await page.get_by_role("status").filter(has_text="Terms saved").wait_for()
    await page.locator("#glossaries tbody tr", has_text="brand").get_by_text("1").wait_for()

    bad = b"source_lang,source_term,target_lang,target_term\nen,hello,es,hola\nen,,es,vacio\n"
    await page.get_by_label("Import CSV (replaces the terms)").set_input_files(
        files=[{"name": "terms.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    await page.get_by_role("button", name="Import", exact=True).click()
    errors = page.locator("#glossary-errors li")
    await errors.first.wait_for()
    assert "line 3" in await errors.first.inner_text()

    good = b"source_lang,source_term,target_lang,target_term\nen,hello,es,hola\nen,bye,es,adios\n"
    await page.get_by_label("Import CSV (replaces the terms)").set_input_files(
        files=[{"name": "terms.csv", "mimeType": "text/csv", "buffer": good}]
    )
    await page.get_by_role("button", name="Import", exact=True).click()
    await page.get_by_role("status").filter(has_text="Imported 2 terms").wait_for()
    assert await page.locator("#glossary-errors li").count() == 0
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Export CSV").click()
    exported = await read_text(await (await waiting.value).path())
    assert "hola" in exported and "adios" in exported


async def test_providers_and_rocketchat_setup(
    console: Console, browser: Any, rocketchat: RocketChatFake
) -> None:
    page = await sign_in(browser, console)
    await open_page(page, "Providers")
    await page.get_by_label("Provider", exact=True).fill("deepl")
    await page.get_by_label("API key").fill("deepl-secret-key-1234:fx")
    await page.get_by_role("button", name="Store key").click()
    row = page.locator("#providers tbody tr", has_text="deepl")
    await row.get_by_role("button", name="Forget deepl key").wait_for()
    assert "secret-key" not in await page.content()
    assert "…" in await row.inner_text()
    await page.get_by_label("Provider order").fill("scripted, deepl")
    await page.get_by_label("Default quality tier").select_option("economy")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("status").filter(has_text="Provider settings saved").wait_for()
    saved = (await console.app.client.get("/api/v1/providers", headers=console.app.headers)).json()
    assert saved["enabled_providers"] == ["scripted", "deepl"]
    assert saved["default_quality_tier"] == "economy"
    # "Test": a real translation through that provider only (the server's scripted one here).
    await page.get_by_role("button", name="Test scripted").click()
    await page.get_by_role("status").filter(has_text="scripted works").wait_for()

    await open_page(page, "Rocket.Chat")
    await page.get_by_label("Rocket.Chat URL").fill(rocketchat.url)
    await page.get_by_label("Bot user id").fill("BotUser0001")
    await page.get_by_label("Bot token").fill(rocketchat.users["BotUser0001"].token)
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("status").filter(has_text="Rocket.Chat settings saved").wait_for()
    await page.get_by_role("button", name="Check connection").click()
    await page.locator("#rc-status").get_by_text("Bot: ok").wait_for()
    assert rocketchat.calls("me")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="New outgoing-webhook token").click()
    token = await page.locator("#rc-status code").inner_text()
    settings = await console.app.client.get(
        "/api/v1/workspaces/current/settings", headers=console.app.headers
    )
    assert len(token) >= 20 and settings.json()["webhook_token_set"] is True
    lt = await page.locator("#lt-url").inner_text()
    assert lt == console.url + "/libretranslate"


async def test_rocketchat_admin_signs_in_and_plain_users_cannot(
    console: Console, browser: Any, rocketchat: RocketChatFake
) -> None:
    saved = await console.app.client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_url": rocketchat.url},
        headers=console.app.headers,
    )
    assert saved.status_code == 200
    admin = rocketchat.add_user("AdminUser01", roles=["admin", "user"])
    plain = rocketchat.add_user("PlainUser01")
    page = await browser.new_page()
    for user, expected in ((plain, "for workspace admins"), (admin, None)):
        await page.goto(console.url + "/console/sign-in")
        await page.get_by_label("Workspace").fill("default")
        await page.get_by_label("Rocket.Chat user id").fill(user.id)
        await page.get_by_label("Token").fill(user.token)
        await page.get_by_role("button", name="Sign in").last.click()
        if expected:
            await page.get_by_role("alert").filter(has_text=expected).wait_for()
    await page.wait_for_url(re.compile(r".*/console/usage$"))
    assert "Rocket.Chat user AdminUser01" in await page.locator("header").inner_text()


async def test_sign_out_and_expiry_end_the_session(console: Console, browser: Any) -> None:
    page = await sign_in(browser, console)
    cookie = next(c for c in await browser.cookies() if c["name"] == "utp_console")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(r".*/console/sign-in$"))
    # The old cookie, replayed, is no identity any more: the session row is gone.
    replayed = await console.app.client.get(
        "/api/v1/budgets", headers={"Cookie": f"utp_console={cookie['value']}"}
    )
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "session_expired"

    page = await sign_in(browser, console)
    console.clock.advance(timedelta(hours=8, minutes=1))
    await page.goto(console.url + "/console/budgets")
    await page.wait_for_url(re.compile(r".*/console/sign-in$"))


async def test_wrong_key_and_non_admin_key_are_refused(console: Console, browser: Any) -> None:
    reader, _ = await console.app.tenant("reader", scopes=("read:usage",))
    page = await browser.new_page()
    for key, message in (("utp_nope", "API key"), (reader, "for workspace admins")):
        await page.goto(console.url + "/console/sign-in")
        await page.get_by_label("API key").fill(key)
        await page.get_by_role("button", name="Sign in").first.click()
        await page.get_by_role("alert").filter(has_text=message).wait_for()
    assert not [c for c in await browser.cookies() if c["name"] == "utp_console"]


async def test_signing_in_and_moving_around_by_keyboard(console: Console, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(console.url + "/console/sign-in")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.name") == "api_key"
    await page.keyboard.type(console.app.key)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r".*/console/usage$"))
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Usage"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r".*/console/try$"))
    assert await page.locator("label", has_text="Message").locator("textarea").count() == 1
