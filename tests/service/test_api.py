"""The v1 API as a client sees it: results, the error envelope, auth on every route."""

from __future__ import annotations

import asyncio

import pytest

from service import __version__
from service.container import services_of
from tests.service.conftest import Api


def assert_envelope(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code, error
    return error


async def test_translate_returns_the_documented_shape(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/translate",
        json={"text": "Good morning, how is the project going?", "target_lang": "es"},
        headers={**api.headers, "X-Request-ID": "trace-123"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["translated_text"] == "[es] Good morning, how is the project going?"
    assert body["source_lang"] == "en" and body["target_lang"] == "es"
    assert body["provider"] == "scripted" and body["model"] == "scripted-1"
    assert body["cached"] is False and body["untranslated"] is False
    assert body["cost"]["currency"] == "USD" and body["cost"]["characters"] == 39
    assert body["cost"]["amount"] > 0
    assert body["request_id"] == "trace-123" == response.headers["x-request-id"]

    again = await api.client.post(
        "/api/v1/translate",
        json={"text": "Good morning, how is the project going?", "target_lang": "es"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert again.json()["cached"] is True
    assert again.json()["cost"]["amount"] == 0


async def test_batch_fans_out_and_reports_partial_failures(api: Api) -> None:
    api.provider.pairs = {("en", "es"), ("en", "fr")}
    response = await api.client.post(
        "/api/v1/translate/batch",
        json={"texts": ["Hello", "Bye"], "target_langs": ["es", "fr", "ja"]},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["translations"]
    assert len(items) == 6
    ok = {
        (i["target_lang"], i["text_index"]): i["translated_text"] for i in items if not i["error"]
    }
    assert ok == {
        ("es", 0): "[es] Hello",
        ("es", 1): "[es] Bye",
        ("fr", 0): "[fr] Hello",
        ("fr", 1): "[fr] Bye",
    }
    failed = [i for i in items if i["error"]]
    assert {i["target_lang"] for i in failed} == {"ja"}
    assert all(i["error"]["code"] == "unsupported_language_pair" for i in failed)


async def test_detect_and_languages(api: Api) -> None:
    detected = await api.client.post(
        "/api/v1/detect", json={"text": "hello there"}, headers=api.headers
    )
    assert detected.status_code == 200
    assert detected.json()["language"] == "en"
    langs = await api.client.get("/api/v1/languages", headers=api.headers)
    assert langs.status_code == 200
    by_code = {item["code"]: item for item in langs.json()["languages"]}
    assert by_code["es"]["providers"] == ["scripted"] and by_code["es"]["name"] == "Spanish"


BAD_TRANSLATE_BODIES = [
    ({"text": "", "target_lang": "es"}, 422, "empty_text"),
    ({"text": "   \n\t", "target_lang": "es"}, 422, "empty_text"),
    ({"text": "x" * 10_001, "target_lang": "es"}, 422, "text_too_long"),
    ({"text": "hi", "target_lang": "klingon"}, 422, "unknown_language"),
    ({"text": "hi", "target_lang": "es", "source_lang": "xx"}, 422, "unknown_language"),
    ({"text": 42, "target_lang": "es"}, 422, "validation_error"),
    ({"target_lang": "es"}, 422, "validation_error"),
    ({"text": "hi", "target_lang": "es", "quality_tier": "luxury"}, 422, "validation_error"),
    ({"text": "hi", "target_lang": "es", "provider": "babelfish"}, 422, "unknown_provider"),
    ({"text": "hi", "target_lang": "es", "context": [{"text": "a"}] * 11}, 422, "too_many_items"),
    ([1, 2, 3], 422, "validation_error"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_TRANSLATE_BODIES)
async def test_bad_translate_input_is_a_clear_4xx(api: Api, body, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    response = await api.client.post("/api/v1/translate", json=body, headers=api.headers)
    assert_envelope(response, status, code)


async def test_unsupported_pair_is_422(api: Api) -> None:
    api.provider.pairs = {("en", "es")}
    response = await api.client.post(
        "/api/v1/translate", json={"text": "hi", "target_lang": "ja"}, headers=api.headers
    )
    error = assert_envelope(response, 422, "unsupported_language_pair")
    assert error["details"] == {"source_lang": "en", "target_lang": "ja"}


async def test_malformed_json_is_400(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/translate",
        content=b'{"text": "hi", "target_lang": ',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "malformed_body")


async def test_oversized_body_is_413(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/translate",
        content=b'{"text": "' + b"a" * 1_100_000 + b'", "target_lang": "es"}',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 413)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"texts": ["a"] * 51, "target_lang": "es"}, "too_many_items"),
        (
            {
                "texts": ["a"],
                "target_langs": ["es", "fr", "de", "it", "pt", "ca", "nl", "pl", "ru", "uk", "tr"],
            },
            "too_many_items",
        ),
        ({"texts": [], "target_lang": "es"}, "validation_error"),
        ({"texts": ["a", " "], "target_lang": "es"}, "empty_text"),
        ({"texts": ["a"]}, "validation_error"),
        ({"texts": ["a"], "target_lang": "es", "target_langs": ["fr"]}, "validation_error"),
        ({"texts": ["a"], "target_langs": ["es", "zz"]}, "unknown_language"),
    ],
)
async def test_bad_batch_input_is_422(api: Api, body: dict, code: str) -> None:
    response = await api.client.post("/api/v1/translate/batch", json=body, headers=api.headers)
    assert_envelope(response, 422, code)


def api_routes(api: Api) -> list[tuple[str, str]]:
    routes = []
    for route in api.client.app.routes:
        if not route.path.startswith("/api/v1"):
            continue
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            routes.append(
                (method, route.path.replace("{", "").replace("}", "").replace(":str", ""))
            )
    return routes


async def test_every_api_route_requires_a_valid_key(api: Api) -> None:
    routes = api_routes(api)
    assert ("POST", "/api/v1/translate") in routes and len(routes) >= 4
    for method, path in routes:
        missing = await api.client.request(method, path, json={})
        assert_envelope(missing, 401, "missing_api_key")
        wrong = await api.client.request(
            method, path, json={}, headers={"X-API-Key": "utp_aaaaaaaaaaaa_" + "b" * 43}
        )
        assert_envelope(wrong, 401, "invalid_api_key")
        bearer_junk = await api.client.request(
            method, path, json={}, headers={"Authorization": "Bearer nonsense"}
        )
        assert_envelope(bearer_junk, 401, "invalid_api_key")


async def test_unknown_route_and_method_use_the_envelope(api: Api) -> None:
    assert_envelope(await api.client.get("/api/v1/nope", headers=api.headers), 404, "not_found")
    assert_envelope(
        await api.client.get("/api/v1/translate", headers=api.headers), 405, "method_not_allowed"
    )


async def test_health_and_metrics_are_public(api: Api) -> None:
    live = await api.client.get("/health/live")
    # Without UTP_RELEASE (outside the platform) the release is the package version.
    running = {"version": __version__, "release": __version__}
    assert live.status_code == 200 and live.json() == {"status": "ok", **running}
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert {k: ready.json()[k] for k in running} == running
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert ready.json()["checks"]["redis"]["status"] == "disabled"
    await api.client.post(
        "/api/v1/translate", json={"text": "Hi there", "target_lang": "es"}, headers=api.headers
    )
    scrape = (await api.client.get("/metrics")).text
    assert (
        'utp_http_requests_total{method="POST",route="/api/v1/translate",status_class="2xx"}'
        in scrape
    )
    assert "utp_translations_total" in scrape
    assert f'utp_build_info{{release="{__version__}",version="{__version__}"}} 1.0' in scrape
    assert api.key not in scrape


async def test_openapi_schema_is_served(api: Api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    assert "/api/v1/translate" in schema["paths"]


async def test_usage_event_for_every_text_including_cache_hits(api: Api) -> None:
    import sqlalchemy as sa

    from service.db.models import UsageEvent

    for _ in range(3):
        await api.client.post(
            "/api/v1/translate", json={"text": "Lunch?", "target_lang": "es"}, headers=api.headers
        )
    app = api.client.app
    await services_of(app).usage.recorder.flush()
    async with services_of(app).sessions() as session:
        rows = (await session.scalars(sa.select(UsageEvent).order_by(UsageEvent.created_at))).all()
    assert [r.cache_hit for r in rows] == [False, True, True]
    assert rows[0].provider == "scripted" and rows[0].cost > 0 and rows[1].cost == 0
    assert all(r.characters == len("Lunch?") for r in rows)


async def test_concurrent_api_requests_share_one_provider_call(api: Api) -> None:
    api.provider.delay = 0.05
    responses = await asyncio.gather(
        *(
            api.client.post(
                "/api/v1/translate",
                json={"text": "Same words", "target_lang": "fr"},
                headers=api.headers,
            )
            for _ in range(30)
        )
    )
    assert {r.status_code for r in responses} == {200}
    assert len(api.provider.calls) == 1


async def test_ready_is_degraded_not_down_when_redis_is_away(sqlite_settings) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from service.settings import Secret
    from tests.servers import free_port
    from tests.service.conftest import start_api
    from tests.service.scripted import ScriptedProvider

    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings = replace(
        sqlite_settings, cache=replace(sqlite_settings.cache, redis_url=Secret(nowhere))
    )
    async for api in start_api(settings, ScriptedProvider()):
        ready = await api.client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"]["status"] == "down"
        translated = await api.client.post(
            "/api/v1/translate",
            json={"text": "Still here?", "target_lang": "es"},
            headers=api.headers,
        )
        assert translated.status_code == 200
        assert translated.json()["translated_text"] == "[es] Still here?"
