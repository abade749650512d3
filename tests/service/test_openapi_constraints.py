"""The constraints issue #21 found only in code are now in the OpenAPI document, and the server
refuses exactly what the document forbids."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.api.openapi import url_pattern
from service.netpolicy import OutboundPolicy
from service.translation import languages

from .conftest import Api


async def _schema(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = (await api.client.get("/schema/openapi.json")).json()
    return document


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [found] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    schema: dict[str, Any] = found["schema"]
    return schema


async def test_the_document_states_the_constraints(api: Api) -> None:
    document = await _schema(api)
    schemas = document["components"]["schemas"]
    text = schemas["TranslateRequest"]["properties"]["text"]
    assert "pattern" in text  # not blank, no NUL
    assert schemas["BatchTranslateRequest"]["properties"]["texts"]["minItems"] == 1
    limit = _parameter(document, "/api/v1/audit", "limit")
    assert (limit["minimum"], limit["maximum"]) == (1, 1000)
    assert _parameter(document, "/api/v1/audit", "before")["format"] == "date-time"
    name = schemas["GlossaryCreate"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 200)
    [mode] = schemas["ChannelUpdate"]["properties"]["delivery_mode"]["oneOf"]
    assert mode["enum"] == ["thread", "attachment"]
    # Bodies that refuse unknown fields say so; free-form ones accept any JSON without NUL.
    assert schemas["ChannelUpdate"]["additionalProperties"] is False
    assert schemas["OutgoingMessage"]["additionalProperties"] == {
        "$ref": "#/components/schemas/JsonValue"
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("post", "/api/v1/translate", {"text": "", "target_lang": "es"}, "empty_text"),
        ("post", "/api/v1/detect", {"text": " \n"}, "empty_text"),
        ("post", "/api/v1/translate/batch", {"texts": [], "target_lang": "es"}, None),
        ("get", "/api/v1/audit?limit=5000", None, None),
        ("get", "/api/v1/audit?limit=0", None, None),
        ("get", "/api/v1/audit?before=0.5", None, None),
        ("get", "/api/v1/audit?before=2026-12-01T00:00:00", None, None),  # no offset
        ("post", "/api/v1/glossaries", {"name": ""}, None),
        ("post", "/api/v1/glossaries", {"name": "   "}, None),
        ("put", "/api/v1/channels/GENERAL", {"delivery_mode": ""}, None),
        ("put", "/api/v1/channels/GENERAL", {"max_cost_per_message": 5000}, None),
        ("get", "/api/v1/glossaries?channel_id=a&channel_id=b", None, None),
        # A glossary id only as the API writes it (uuid.UUID would read `{...}`, `urn:uuid:`).
        ("put", "/api/v1/channels/GENERAL", {"glossary_id": "urn:uuid:" + "0" * 32}, None),
        ("put", "/api/v1/channels/GENERAL", {"allowed_langs": [""]}, "unknown_language"),
        ("put", "/api/v1/providers/openai", {"api_key": "k" * 20, "model": " "}, None),
        ("put", "/api/v1/providers/openai", {"api_key": "k" * 20, "model": "m" * 101}, None),
        ("post", "/api/v1/auth/rocketchat", {"user_id": "  "}, None),
    ],
)
async def test_the_server_refuses_what_the_document_forbids(
    api: Api, method: str, path: str, body: dict[str, Any] | None, code: str | None
) -> None:
    kwargs: dict[str, Any] = {"headers": api.headers}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(api.client, method)(path, **kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == (code or "validation_error")


async def test_an_audit_page_reads_on_from_next_before(api: Api) -> None:
    for name in ("first", "second"):
        created = await api.client.post(
            "/api/v1/glossaries", json={"name": name}, headers=api.headers
        )
        assert created.status_code == 201, created.text
    page = (await api.client.get("/api/v1/audit?limit=1", headers=api.headers)).json()
    assert len(page["entries"]) == 1 and page["next_before"]
    older = await api.client.get(
        "/api/v1/audit", params={"limit": 1, "before": page["next_before"]}, headers=api.headers
    )
    assert older.status_code == 200
    assert older.json()["entries"][0]["id"] != page["entries"][0]["id"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/workspaces", {"GET", "POST", "OPTIONS"}),  # two controllers share the path
        ("/api/v1/me/preferences", {"GET", "PUT", "OPTIONS"}),
        ("/api/v1/translate", {"POST", "OPTIONS"}),
    ],
)
async def test_options_lists_every_method_of_the_path(
    api: Api, path: str, methods: set[str]
) -> None:
    response = await api.client.options(path, headers=api.headers)
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == methods
    documented = (await _schema(api))["paths"][path]
    assert {m.upper() for m in documented} == methods


async def test_the_glossary_export_documents_its_file(api: Api) -> None:
    created = await api.client.post(
        "/api/v1/glossaries",
        json={"name": "terms", "entries": [{"source_lang": "en", "source_term": "Acme"}]},
        headers=api.headers,
    )
    exported = await api.client.get(
        f"/api/v1/glossaries/{created.json()['id']}/export?format=tsv", headers=api.headers
    )
    answer = (await _schema(api))["paths"]["/api/v1/glossaries/{glossary_id}/export"]["get"]
    documented = answer["responses"]["200"]
    assert exported.headers["content-type"] in documented["content"]
    assert exported.headers["content-type"] == "text/tab-separated-values; charset=utf-8"
    for header in documented["headers"]:
        assert exported.headers[header]


@pytest.mark.parametrize(
    "code", ["en", " PT_br ", "zh-hans", "ENG", "auto", "xx", "e n", "en-", "", "Auto"]
)
async def test_the_language_pattern_is_what_the_server_reads(api: Api, code: str) -> None:
    schemas = (await _schema(api))["components"]["schemas"]
    target = schemas["TranslateRequest"]["properties"]["target_lang"]["pattern"]
    documented = re.search(target, code) is not None
    response = await api.client.post(
        "/api/v1/translate", json={"text": "Hello", "target_lang": code}, headers=api.headers
    )
    assert (response.status_code == 200) == documented, response.text
    assert documented == (languages.normalize(code) is not None)


async def test_the_batch_documents_one_of_its_two_target_fields(api: Api) -> None:
    batch = (await _schema(api))["components"]["schemas"]["BatchTranslateRequest"]
    assert [alternative["required"] for alternative in batch["oneOf"]] == [
        ["target_lang"],
        ["target_langs"],
    ]
    targets = batch["properties"]["target_langs"]["oneOf"][0]
    assert (targets["minItems"], targets["maxItems"]) == (1, 10)
    assert batch["properties"]["texts"]["maxItems"] == 50
    for body in (
        {"texts": ["Hi"], "target_lang": "es", "target_langs": ["de"]},
        {"texts": ["Hi"]},
        {"texts": ["Hi"], "target_lang": None, "target_langs": None},
        {"texts": ["Hi"], "target_langs": []},
    ):
        response = await api.client.post("/api/v1/translate/batch", json=body, headers=api.headers)
        assert response.status_code == 422, body
    for body in (
        {"texts": ["Hi"], "target_lang": "es", "target_langs": None},
        {"texts": ["Hi"], "target_lang": None, "target_langs": ["de", "fr"]},
    ):
        response = await api.client.post("/api/v1/translate/batch", json=body, headers=api.headers)
        assert response.status_code == 200, response.text


async def test_enabled_providers_are_the_known_names(api: Api) -> None:
    update = (await _schema(api))["components"]["schemas"]["ProvidersUpdate"]
    [names] = [o for o in update["properties"]["enabled_providers"]["oneOf"] if "items" in o]
    known = names["items"]["enum"]
    assert {"deepl", "apertium"} <= set(known)
    accepted = await api.client.put(
        "/api/v1/providers", json={"enabled_providers": known}, headers=api.headers
    )
    assert accepted.status_code == 200, accepted.text
    refused = await api.client.put(
        "/api/v1/providers", json={"enabled_providers": ["nope"]}, headers=api.headers
    )
    assert refused.json()["error"]["code"] == "unknown_provider"


async def test_glossary_entries_document_their_language_codes(api: Api) -> None:
    entry = (await _schema(api))["components"]["schemas"]["EntryIn"]["properties"]
    source = entry["source_lang"]["pattern"]
    [target] = [o["pattern"] for o in entry["target_lang"]["oneOf"] if o["type"] == "string"]
    assert re.search(source, " EN ") and not re.search(source, "xx")
    assert not re.search(source, "") and re.search(target, " ")
    refused = await api.client.post(
        "/api/v1/glossaries",
        json={"name": "terms", "entries": [{"source_lang": "xx", "source_term": "Acme"}]},
        headers=api.headers,
    )
    assert refused.json()["error"]["code"] == "invalid_glossary"
    accepted = await api.client.post(
        "/api/v1/glossaries",
        json={
            "name": "terms",
            "entries": [{"source_lang": " EN ", "source_term": "Acme", "target_lang": " "}],
        },
        headers=api.headers,
    )
    assert accepted.status_code == 201, accepted.text


@pytest.mark.parametrize(
    ("limit", "accepted"),
    [
        (5, True),
        ("0.60", True),
        (" +5. ", True),
        (".5", True),
        ("1000000000", True),
        (1e9, True),
        ("1000000000.5", False),
        (1e9 + 1, False),
        (-1, False),
        ("1e3", False),
        ("1_000", False),
        ("NaN", False),
        ("", False),
    ],
)
async def test_a_budget_limit_is_what_the_document_states(
    api: Api, limit: float | str, accepted: bool
) -> None:
    update = (await _schema(api))["components"]["schemas"]["BudgetUpdate"]
    number, text = update["properties"]["monthly_limit"]["oneOf"]
    if isinstance(limit, str):
        assert (re.search(text["pattern"], limit) is not None) == accepted
    else:
        assert (number["minimum"] <= limit <= number["maximum"]) == accepted
    response = await api.client.put(
        "/api/v1/budgets",
        json={"scope": "workspace", "monthly_limit": limit},
        headers=api.headers,
    )
    assert (response.status_code == 200) == accepted, response.text
    if not accepted:
        assert response.json()["error"]["code"] == "validation_error"


async def test_a_budget_documents_its_subject_per_scope(api: Api) -> None:
    update = (await _schema(api))["components"]["schemas"]["BudgetUpdate"]
    workspace, other = update["oneOf"]
    assert workspace["properties"]["subject"]["enum"] == [None, ""]
    assert other["required"] == ["subject"]
    for body, status in (
        ({"scope": "workspace", "subject": "", "monthly_limit": 1}, 200),
        ({"scope": "user", "subject": "u" * 64, "monthly_limit": 1}, 200),
        ({"scope": "user", "subject": "u" * 65, "monthly_limit": 1}, 422),
        ({"scope": "channel", "monthly_limit": 1}, 422),
    ):
        response = await api.client.put("/api/v1/budgets", json=body, headers=api.headers)
        assert response.status_code == status, body


async def test_libretranslate_documents_its_json_and_form_bodies(api: Api) -> None:
    document = await _schema(api)
    body = document["paths"]["/libretranslate/translate"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    schemas = document["components"]["schemas"]
    translate = schemas["LibreTranslateRequest"]
    assert translate["required"] == ["api_key", "q", "source", "target"]
    assert translate["properties"]["format"]["enum"] == ["text", "html", "", None]
    # Only the languages the server's engines serve (the scripted provider's seven).
    source = re.compile(translate["properties"]["source"]["pattern"])
    target = re.compile(translate["properties"]["target"]["pattern"])
    assert source.search("auto") and not target.search("auto") and not source.search("AUTO")
    assert target.search("ES") and target.search(" fr ") and not target.search("ja")
    form = schemas["LibreDetectForm"]
    assert form["required"] == ["api_key", "q"]
    assert form["properties"]["q"]["maxLength"] == api.settings.limits.max_text_chars


async def test_a_pinned_provider_is_a_known_name(api: Api) -> None:
    schemas = (await _schema(api))["components"]["schemas"]
    for body in ("TranslateRequest", "BatchTranslateRequest"):
        [name] = [o for o in schemas[body]["properties"]["provider"]["oneOf"] if "enum" in o]
        assert {"deepl", "scripted"} <= set(name["enum"])
    # Known but not enabled here: the workspace's state refuses it (409), not the schema.
    refused = await api.client.post(
        "/api/v1/translate",
        json={"text": "Hi", "target_lang": "es", "provider": "deepl"},
        headers=api.headers,
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "provider_not_enabled"


@pytest.mark.parametrize(
    ("term", "valid"),
    [
        ("Acme", True),
        ("  two words  ", True),
        ("x" * 500, True),
        (" " + "x" * 500 + "\n", True),  # surrounding white space is dropped before counting
        ("x" * 501, False),
        ("", False),
        ("   ", False),
        ("a\tb", False),
        ("a\nb", False),
        ("⟦x⟧", False),
    ],
)
async def test_a_glossary_term_is_what_the_document_states(
    api: Api, term: str, valid: bool
) -> None:
    entry = (await _schema(api))["components"]["schemas"]["EntryIn"]
    assert bool(re.search(entry["properties"]["source_term"]["pattern"], term)) is valid
    response = await api.client.post(
        "/api/v1/glossaries",
        json={"name": f"g{len(term)}", "entries": [{"source_lang": "en", "source_term": term}]},
        headers=api.headers,
    )
    assert response.status_code == (201 if valid else 422), response.text


async def test_a_target_term_needs_its_language(api: Api) -> None:
    entry = (await _schema(api))["components"]["schemas"]["EntryIn"]
    assert entry["if"]["required"] == ["target_term"] and entry["then"]["required"] == [
        "target_lang"
    ]
    response = await api.client.post(
        "/api/v1/glossaries",
        json={
            "name": "g",
            "entries": [{"source_lang": "en", "source_term": "a", "target_term": "b"}],
        },
        headers=api.headers,
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://api.example.com", True),
        ("http://127.0.0.1:8080/v2/", True),
        (" https://x.example.com/a/b ", True),
        ("ftp://example.com", False),
        ("https://user:pw@example.com", False),
        ("https://example.com/?q=1", False),
        ("https://example.com/#top", False),
        ("https://0x7f000001", False),
        ("https://127.1", False),
        ("https://example.com:99999", False),
        ("https://exa mple.com", False),
        ("https://", False),
    ],
)
async def test_a_provider_url_is_what_the_document_states(api: Api, url: str, valid: bool) -> None:
    credential = (await _schema(api))["components"]["schemas"]["CredentialUpdate"]
    [text] = [o for o in credential["properties"]["base_url"]["oneOf"] if "pattern" in o]
    assert bool(re.search(text["pattern"], url)) is valid
    response = await api.client.put(
        "/api/v1/providers/deepl", json={"api_key": "k" * 20, "base_url": url}, headers=api.headers
    )
    assert response.status_code == (200 if valid else 422), response.text


async def test_the_login_headers_are_documented(api: Api) -> None:
    document = await _schema(api)
    operation = document["paths"]["/api/v1/auth/rocketchat"]["post"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"X-User-Id", "X-Auth-Token"}
    assert not any(h["required"] for h in headers.values())
    [name] = document["paths"]["/api/v1/providers/{name}"]["put"]["parameters"]
    assert name["schema"]["enum"] == ["anthropic", "deepl", "google", "libretranslate", "openai"]


def test_a_production_provider_url_is_https() -> None:
    policy = OutboundPolicy.build(production=True, allow_http=False, allowed_networks=())
    pattern = re.compile(url_pattern(policy))
    assert pattern.search("https://api.example.com/v2")
    assert not pattern.search("http://api.example.com/v2")
