"""Issue 24, item 7 / deliverable 6: security headers from the app itself, /schema switchable
(off in production by default), /metrics without tenant identifiers and optionally behind its
own credential."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from service.container import services_of
from service.settings import Secret
from tests.security.conftest import production_settings
from tests.service.usage.conftest import Starter


async def test_every_answer_carries_the_security_headers(start: Starter) -> None:
    app = await start()
    for answer in (
        await app.translate("Hello"),
        await app.client.get("/api/v1/nowhere", headers=app.headers),
        await app.client.get("/health/live"),
    ):
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers  # development: plain http
    docs = await app.client.get("/schema/swagger")
    assert docs.status_code == 200  # served outside production
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert "script-src" in docs.headers["content-security-policy"]


@pytest.mark.postgres
async def test_production_sends_hsts_and_hides_the_schema_unless_switched_on(
    start: Starter, postgres_url: str, tmp_path: Path
) -> None:
    app = await start(production_settings(tmp_path / "a", postgres_url))
    answer = await app.client.get("/health/live")
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    for route in ("/schema", "/schema/openapi.json", "/schema/swagger"):
        assert (await app.client.get(route)).status_code == 404, route

    settings = production_settings(tmp_path / "b", postgres_url)
    settings = replace(settings, server=replace(settings.server, schema_enabled="true"))
    shown = await start(settings)
    assert (await shown.client.get("/schema/openapi.json")).status_code == 200


async def test_metrics_name_no_workspace_and_can_require_a_credential(
    start: Starter, tmp_path: Path
) -> None:
    app = await start()
    budget = await app.client.put(
        "/api/v1/budgets", json={"scope": "workspace", "monthly_limit": 5}, headers=app.headers
    )
    assert budget.status_code == 200, budget.text
    await services_of(app.litestar).usage.maintain()
    scrape = (await app.client.get("/metrics")).text
    [gauge] = [line for line in scrape.splitlines() if line.startswith("utp_budget_consumption")]
    assert gauge.startswith('utp_budget_consumption_ratio{workspace="ws-'), gauge
    assert str(app.workspace_id) not in scrape

    settings = replace(
        app.settings,
        server=replace(app.settings.server, data_dir=tmp_path / "guarded"),
        security=replace(app.settings.security, metrics_token=Secret("scrape-" + "x" * 30)),
    )
    guarded = await start(settings)
    assert (await guarded.client.get("/metrics")).status_code == 401
    wrong = await guarded.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = await guarded.client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-" + "x" * 30}
    )
    assert right.status_code == 200 and "utp_http_requests_total" in right.text
