"""Glossary CRUD, CSV import/export through the API, version bumps and tenant isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.settings import Settings
from tests.service.providers_config.support import Admin, admin_app, with_encryption_key
from tests.service.scripted import ScriptedProvider

CSV_FILE = (
    "source_lang,target_lang,source_term,target_term\r\n"
    "en,,Kubernetes,\r\n"
    'en,es,"on-call, primary",guardia principal\r\n'
    "en,es,release,versión\r\n"
)


@pytest.fixture
async def admin(sqlite_settings: Settings) -> AsyncIterator[Admin]:
    async with admin_app(with_encryption_key(sqlite_settings), [ScriptedProvider()]) as running:
        yield running


async def _create(admin: Admin, **body: object) -> dict:  # type: ignore[type-arg]
    response = await admin.client.post(
        "/api/v1/glossaries", json={"name": "Engineering", **body}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_crud_bumps_the_version_on_every_edit(admin: Admin) -> None:
    created = await _create(
        admin,
        entries=[
            {
                "source_lang": "en",
                "target_lang": "es",
                "source_term": "deploy",
                "target_term": "desplegar",
            }
        ],
    )
    assert created["version"] == 1 and created["entry_count"] == 1 and created["channel_id"] is None
    gid = created["id"]
    renamed = await admin.client.put(
        f"/api/v1/glossaries/{gid}", json={"name": "Eng"}, headers=admin.headers
    )
    assert renamed.json()["version"] == 2 and renamed.json()["entries"] == created["entries"]
    replaced = await admin.client.put(
        f"/api/v1/glossaries/{gid}",
        json={"entries": [{"source_lang": "en", "source_term": "Acme", "target_lang": "es"}]},
        headers=admin.headers,
    )
    assert replaced.json()["version"] == 3
    assert replaced.json()["entries"] == [
        {"source_lang": "en", "target_lang": None, "source_term": "Acme", "target_term": None}
    ]
    listed = await admin.client.get("/api/v1/glossaries", headers=admin.headers)
    assert [(g["name"], g["entry_count"], g["version"]) for g in listed.json()["glossaries"]] == [
        ("Eng", 1, 3)
    ]
    duplicate = await admin.client.post(
        "/api/v1/glossaries", json={"name": "Eng"}, headers=admin.headers
    )
    assert duplicate.status_code == 409
    bad = await admin.client.post(
        "/api/v1/glossaries",
        json={
            "name": "Bad",
            "entries": [
                {"source_lang": "en", "source_term": "x"},
                {"source_lang": "zz", "source_term": "y"},
            ],
        },
        headers=admin.headers,
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith(
        "entries[1]: source_lang 'zz'"
    )
    assert (
        await admin.client.delete(f"/api/v1/glossaries/{gid}", headers=admin.headers)
    ).status_code == 204
    assert (
        await admin.client.get(f"/api/v1/glossaries/{gid}", headers=admin.headers)
    ).status_code == 404


async def test_csv_import_export_round_trip(admin: Admin) -> None:
    gid = (await _create(admin, channel_id="GENERAL"))["id"]
    imported = await admin.client.post(
        f"/api/v1/glossaries/{gid}/import",
        content=CSV_FILE.encode(),
        headers={**admin.headers, "Content-Type": "text/csv; charset=utf-8"},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["entry_count"] == 3 and imported.json()["version"] == 2
    exported = await admin.client.get(f"/api/v1/glossaries/{gid}/export", headers=admin.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="Engineering.csv"' in exported.headers["content-disposition"]
    assert exported.text == CSV_FILE
    # Importing the export changes nothing but the version.
    again = await admin.client.post(
        f"/api/v1/glossaries/{gid}/import",
        content=exported.content,
        headers={**admin.headers, "Content-Type": "text/csv"},
    )
    assert again.json()["entries"] == imported.json()["entries"] and again.json()["version"] == 3

    tsv = await admin.client.post(
        f"/api/v1/glossaries/{gid}/import?mode=merge",
        content=b"en\tes\tKubernetes\tKubernetes-es\nen\tes\trelease\tlanzamiento\n",
        headers={**admin.headers, "Content-Type": "text/tab-separated-values"},
    )
    assert tsv.status_code == 200, tsv.text
    pairs = {(e["source_term"], e["target_lang"]): e["target_term"] for e in tsv.json()["entries"]}
    assert pairs == {
        ("Kubernetes", None): None,
        ("Kubernetes", "es"): "Kubernetes-es",
        ("on-call, primary", "es"): "guardia principal",
        ("release", "es"): "lanzamiento",
    }
    as_tsv = await admin.client.get(
        f"/api/v1/glossaries/{gid}/export?format=tsv", headers=admin.headers
    )
    assert as_tsv.text.splitlines()[0] == "source_lang\ttarget_lang\tsource_term\ttarget_term"


async def test_invalid_csv_is_422_naming_the_line(admin: Admin) -> None:
    gid = (await _create(admin))["id"]
    body = "en,es,release,versión\nen,es,deploy\nen,es,,x\n"
    response = await admin.client.post(
        f"/api/v1/glossaries/{gid}/import",
        content=body.encode(),
        headers={**admin.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_glossary"
    assert error["message"] == "line 3: source_term is empty"
    # A 3-field row is a do-not-translate term in language order: en,es,deploy has no term.
    assert error["details"]["errors"] == [{"where": "line 3", "message": "source_term is empty"}]
    unchanged = await admin.client.get(f"/api/v1/glossaries/{gid}", headers=admin.headers)
    assert unchanged.json()["entry_count"] == 0 and unchanged.json()["version"] == 1
    wrong_type = await admin.client.post(
        f"/api/v1/glossaries/{gid}/import",
        content=b"{}",
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415


async def test_another_workspaces_glossary_is_not_found(admin: Admin) -> None:
    gid = (await _create(admin, entries=[{"source_lang": "en", "source_term": "Acme"}]))["id"]
    other = admin.other_headers
    csv_headers = {**other, "Content-Type": "text/csv"}
    attempts = [
        await admin.client.get(f"/api/v1/glossaries/{gid}", headers=other),
        await admin.client.put(f"/api/v1/glossaries/{gid}", json={"name": "mine"}, headers=other),
        await admin.client.delete(f"/api/v1/glossaries/{gid}", headers=other),
        await admin.client.get(f"/api/v1/glossaries/{gid}/export", headers=other),
        await admin.client.post(
            f"/api/v1/glossaries/{gid}/import", content=b"x,y", headers=csv_headers
        ),
        await admin.client.get("/api/v1/glossaries/not-a-uuid", headers=other),
    ]
    assert [r.status_code for r in attempts] == [404] * 6
    assert all("Acme" not in r.text for r in attempts)
    assert (await admin.client.get("/api/v1/glossaries", headers=other)).json() == {
        "glossaries": []
    }
    mine = await admin.client.get(f"/api/v1/glossaries/{gid}", headers=admin.headers)
    assert mine.json()["name"] == "Engineering" and mine.json()["version"] == 1
    bot = await admin.client.get("/api/v1/glossaries", headers={"X-API-Key": admin.translate_key})
    assert bot.status_code == 403
