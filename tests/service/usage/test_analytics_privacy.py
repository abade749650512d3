"""Usage analytics from the daily rollups (JSON and CSV), and privacy: export, erase, retention."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from service.clock import FrozenClock
from service.container import services_of
from service.db.models import TranslationMemory, UsageEvent, User, UserPreferences
from service.usage.recorder import Event
from tests.service.usage.conftest import App, Starter

# The moment these tests mean, mid-month so that "this month so far" (the report's default
# range) holds yesterday too; the apps read it from their clock, never from the calendar.
NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


async def seed(app: App, workspace: uuid.UUID | None = None) -> None:
    ws = workspace or app.workspace_id

    def event(**kw: object) -> Event:
        base: dict[str, object] = {
            "workspace_id": ws,
            "target_lang": "es",
            "source_lang": "en",
            "created_at": NOW,
        }
        return Event(**{**base, **kw})  # type: ignore[arg-type]

    recorder = app.services.recorder
    for when in (NOW, NOW, YESTERDAY):
        recorder.record(
            event(
                user_id="alice",
                channel_id="GENERAL",
                provider="deepl",
                outcome="translated",
                characters=10,
                cost=Decimal("0.001"),
                latency_ms=20,
                created_at=when,
            )
        )
    recorder.record(
        event(user_id="alice", provider="deepl", outcome="cached", cache_hit=True, latency_ms=3)
    )
    recorder.record(event(user_id="bob", target_lang="fr", outcome="error", latency_ms=600))
    recorder.record(event(user_id="bob", target_lang="en", outcome="same_language", latency_ms=1))
    await recorder.drain()


async def test_usage_totals_groups_percentiles_and_csv(start: Starter) -> None:
    app = await start(clock=FrozenClock(NOW))
    await seed(app)
    body = (await app.client.get("/api/v1/usage", headers=app.headers)).json()
    assert body["currency"] == "USD" and body["groups"] == []
    totals = body["totals"]
    assert totals["translations"] == 6 and totals["characters"] == 30
    assert totals["cost"] == 0.003 and totals["errors"] == 1
    assert totals["cache_hit_ratio"] == 0.2  # 1 hit of 5 texts that needed translating
    assert totals["error_rate"] == round(1 / 6, 4)
    # Histogram: 2 in (0, 5] ms, 3 in (10, 25], 1 in (500, 1000]; interpolated in the bucket.
    assert totals["p50_latency_ms"] == 15.0 and totals["p95_latency_ms"] == 850.0

    by_user = (
        await app.client.get("/api/v1/usage", params={"group_by": "user"}, headers=app.headers)
    ).json()["groups"]
    assert [(g["key"], g["figures"]["translations"]) for g in by_user] == [("alice", 4), ("bob", 2)]
    assert by_user[1]["figures"]["error_rate"] == 0.5

    day = (
        await app.client.get(
            "/api/v1/usage",
            params={
                "group_by": "day",
                "from": YESTERDAY.date().isoformat(),
                "to": NOW.date().isoformat(),
            },
            headers=app.headers,
        )
    ).json()
    assert {g["key"]: g["figures"]["translations"] for g in day["groups"]} == {
        YESTERDAY.date().isoformat(): 1,
        NOW.date().isoformat(): 5,
    }
    pairs = (
        await app.client.get(
            "/api/v1/usage", params={"group_by": "language_pair"}, headers=app.headers
        )
    ).json()["groups"]
    assert {g["key"] for g in pairs} == {"en-es", "en-fr", "en-en"}

    exported = await app.client.get(
        "/api/v1/usage",
        params={"group_by": "provider"},
        headers={**app.headers, "Accept": "text/csv"},
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["provider"], r["translations"], r["cost_usd"]) for r in rows] == [
        ("", "2", "0.000000000"),
        ("deepl", "4", "0.003000000"),
    ]


async def test_default_range_on_the_first_of_a_month_is_that_day_alone(start: Starter) -> None:
    clock = FrozenClock(datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC))
    app = await start(clock=clock)
    for when in (datetime(2026, 12, 31, 23, 59, 50, tzinfo=UTC), clock.now()):
        app.services.recorder.record(
            Event(
                workspace_id=app.workspace_id,
                target_lang="es",
                outcome="translated",
                characters=7,
                created_at=when,
            )
        )
    await app.translate("Happy new year")  # stamped by the app's clock: 2027-01-01
    await app.services.recorder.drain()

    body = (await app.client.get("/api/v1/usage", headers=app.headers)).json()
    assert (body["from"], body["to"]) == ("2027-01-01", "2027-01-01")
    assert body["totals"]["translations"] == 2
    both = (
        await app.client.get(
            "/api/v1/usage",
            params={"from": "2026-12-31", "group_by": "day"},
            headers=app.headers,
        )
    ).json()
    days = {g["key"]: g["figures"]["translations"] for g in both["groups"]}
    assert days == {"2026-12-31": 1, "2027-01-01": 2}


async def test_usage_is_scoped_and_validated(start: Starter) -> None:
    app = await start(clock=FrozenClock(NOW))
    await seed(app)
    other_key, _ = await app.tenant("elsewhere")
    other = (await app.client.get("/api/v1/usage", headers={"X-API-Key": other_key})).json()
    assert other["totals"]["translations"] == 0
    bad = await app.client.get(
        "/api/v1/usage", params={"from": "2030-01-02", "to": "2030-01-01"}, headers=app.headers
    )
    assert bad.status_code == 422
    wrong = await app.client.get("/api/v1/usage", params={"group_by": "x"}, headers=app.headers)
    assert 400 <= wrong.status_code < 500
    translate_only, _ = await app.tenant("t", scopes=("translate",))
    refused = await app.client.get("/api/v1/usage", headers={"X-API-Key": translate_only})
    assert refused.status_code == 403


async def test_requests_through_the_api_are_in_the_analytics(start: Starter) -> None:
    app = await start(clock=FrozenClock(NOW))
    for text in ("Hello there", "Hello there", "Another one"):
        await app.translate(text, channel_id="GENERAL")
    await app.services.recorder.drain()
    body = (
        await app.client.get("/api/v1/usage", params={"group_by": "channel"}, headers=app.headers)
    ).json()
    [general] = body["groups"]
    assert general["key"] == "GENERAL" and general["figures"]["translations"] == 3
    assert general["figures"]["cache_hits"] == 1 and general["figures"]["cost"] > 0


async def _add_user(app: App, external_id: str) -> None:
    async with services_of(app.litestar).sessions.begin() as session:
        user = User(id=uuid.uuid4(), workspace_id=app.workspace_id, external_id=external_id)
        session.add(user)
        await session.flush()
        session.add(UserPreferences(user_id=user.id, target_lang="it"))


async def test_export_then_erase_a_user(start: Starter) -> None:
    app = await start(clock=FrozenClock(NOW))
    await seed(app)
    await _add_user(app, "alice")
    await app.client.put(
        "/api/v1/budgets",
        json={"scope": "user", "subject": "alice", "monthly_limit": 5},
        headers=app.headers,
    )
    before = (await app.client.get("/api/v1/usage", headers=app.headers)).json()["totals"]

    exported = await app.client.get("/api/v1/users/alice/export", headers=app.headers)
    assert exported.status_code == 200
    data = exported.json()
    assert data["profile"]["external_id"] == "alice"
    assert data["preferences"]["target_lang"] == "it"
    assert len(data["usage_events"]) == 4 and data["budgets"][0]["scope"] == "user"

    # Another workspace's admin, and a key without admin scope, get nothing.
    other_key, _ = await app.tenant("elsewhere")
    for method, path in (("GET", "/api/v1/users/alice/export"), ("DELETE", "/api/v1/users/alice")):
        response = await app.client.request(method, path, headers={"X-API-Key": other_key})
        assert response.status_code == 404 and "alice" not in response.text
    translate_only, _ = await app.tenant("t", scopes=("translate",))
    assert (
        await app.client.get("/api/v1/users/alice/export", headers={"X-API-Key": translate_only})
    ).status_code == 403

    erased = await app.client.delete("/api/v1/users/alice", headers=app.headers)
    assert erased.status_code == 200
    assert erased.json() == {
        "erased": True,
        "profile": 1,
        "usage_events_anonymised": 4,
        "budgets": 1,
    }
    async with services_of(app.litestar).sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        assert await session.scalar(sa.select(sa.func.count()).select_from(UserPreferences)) == 0
        users = list(await session.scalars(sa.select(UsageEvent.user_id)))
    assert len(users) == 6 and "alice" not in users
    after = (await app.client.get("/api/v1/usage", headers=app.headers)).json()["totals"]
    assert after == before  # anonymised, not dropped
    by_user = (
        await app.client.get("/api/v1/usage", params={"group_by": "user"}, headers=app.headers)
    ).json()["groups"]
    assert [(g["key"], g["figures"]["translations"]) for g in by_user] == [(None, 4), ("bob", 2)]
    assert (
        await app.client.get("/api/v1/users/alice/export", headers=app.headers)
    ).status_code == 404

    # An event of alice's still in some outbox arrives anonymised.
    app.services.recorder.record(
        Event(workspace_id=app.workspace_id, user_id="alice", target_lang="es", outcome="cached")
    )
    await app.services.recorder.drain()
    async with services_of(app.litestar).sessions() as session:
        users = list(await session.scalars(sa.select(UsageEvent.user_id)))
    assert len(users) == 7 and "alice" not in users


async def test_retention_purges_old_message_text(start: Starter) -> None:
    app = await start(clock=FrozenClock(NOW), message_retention_days=30)
    async with services_of(app.litestar).sessions.begin() as session:
        for key, age in (("old", 31), ("new", 29)):
            session.add(
                TranslationMemory(
                    cache_key=key,
                    source_lang="en",
                    target_lang="es",
                    provider="deepl",
                    translated_text=f"{key} text",
                    created_at=NOW - timedelta(days=age),
                )
            )
    await app.services.maintain()
    async with services_of(app.litestar).sessions() as session:
        kept = list(await session.scalars(sa.select(TranslationMemory.cache_key)))
    assert kept == ["new"]
