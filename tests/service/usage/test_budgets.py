"""Monthly budgets: atomic under concurrency, soft limit -> economy, hard limit -> 402."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.clock import FrozenClock
from service.container import services_of
from service.db.models import AuditEntry, BudgetPeriod, BudgetReservation
from service.translation.providers.base import Tier
from tests.service.scripted import ScriptedProvider
from tests.service.usage.conftest import App, Starter, eventually, make_settings

# 50 characters at the scripted price (20 USD per million characters): 0.001 USD each.
PRICE = Decimal("0.001")


def mid_month() -> FrozenClock:
    """The apps' clock: a budget's month is the clock's, so no test straddles a month's end."""
    return FrozenClock(datetime(2026, 12, 15, 12, 0, tzinfo=UTC))


def text(i: int) -> str:
    return f"Budget message {i:04d} ".ljust(50, "x")


async def set_budget(app: App, limit: str, **extra: object) -> dict[str, object]:
    response = await app.client.put(
        "/api/v1/budgets",
        json={"scope": "workspace", "monthly_limit": limit, **extra},
        headers=app.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.postgres
async def test_racing_requests_never_overspend(
    start: Starter, postgres_url: str, tmp_path: Path
) -> None:
    provider = ScriptedProvider("scripted", pairs=None, delay=0.02)
    app = await start(
        make_settings(tmp_path, postgres_url), providers=[provider], clock=mid_month()
    )
    # Room for ten and a half translations.
    await set_budget(app, "0.0105")
    responses = await asyncio.gather(*(app.translate(text(i)) for i in range(40)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 10 and codes.count(402) == 30
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["code"] == "budget_exceeded"
    assert "monthly budget of this workspace" in refused["message"]
    assert refused["details"]["scope"] == "workspace"

    async with services_of(app.litestar).sessions() as session:
        period = (await session.scalars(sa.select(BudgetPeriod))).one()
        held = await session.scalar(sa.select(sa.func.count()).select_from(BudgetReservation))
    assert period.spent_nanos == 10 * 1_000_000 and period.reserved_nanos == 0 and held == 0
    assert len(provider.calls) == 10

    async def ledger_complete() -> bool:
        return len(await app.events()) == 40

    await eventually(ledger_complete)
    events = await app.events()
    assert sum(e.cost for e in events) == 10 * PRICE <= Decimal("0.0105")
    assert sorted(e.outcome for e in events).count("error") == 30


async def test_soft_limit_downgrades_then_hard_limit_leaves_only_the_free_engine(
    start: Starter,
) -> None:
    paid = ScriptedProvider("paid", pairs=None)
    free = ScriptedProvider(
        "free", pairs=None, tier=Tier.ECONOMY, price_per_million_chars=Decimal(0)
    )
    app = await start(providers=[paid, free], clock=mid_month())
    budget = await set_budget(app, "0.005", soft_limit_ratio=0.6)
    assert budget["status"] == "ok" and budget["spent"] == 0

    providers = [(await app.translate(text(i))).json()["provider"] for i in range(3)]
    assert providers == ["paid", "paid", "paid"]  # 0.003 of 0.005: 60 %, the soft limit
    # At the soft limit even a premium request goes to the economy tier.
    soft = await app.translate(text(3), quality_tier="premium")
    assert soft.json()["provider"] == "free"
    listed = (await app.client.get("/api/v1/budgets", headers=app.headers)).json()["budgets"]
    assert listed[0]["status"] == "soft_limit" and listed[0]["spent"] == pytest.approx(0.003)

    # Pinned to the paid provider: 0.002 more still fits, the third does not.
    pinned = [(await app.translate(text(10 + i), provider="paid")).status_code for i in range(3)]
    assert pinned == [200, 200, 402]
    # Past the hard limit the free engine still serves, and cache hits cost nothing.
    assert (await app.translate(text(20))).json()["provider"] == "free"
    again = (await app.translate(text(20))).json()
    assert again["cached"] is True and again["cost"]["amount"] == 0
    listed = (await app.client.get("/api/v1/budgets", headers=app.headers)).json()["budgets"]
    assert listed[0]["status"] == "exhausted" and listed[0]["remaining"] == 0

    # What the alerts watch: enforcement counters and the per-workspace consumption gauge.
    await services_of(app.litestar).usage.maintain()
    scrape = (await app.client.get("/metrics")).text
    assert 'utp_budget_enforcements_total{action="downgrade"}' in scrape
    assert 'utp_budget_enforcements_total{action="reject"}' in scrape
    gauge = [
        line for line in scrape.splitlines() if line.startswith("utp_budget_consumption_ratio{")
    ]
    assert len(gauge) == 1 and float(gauge[0].rsplit(" ", 1)[1]) == pytest.approx(1.0, abs=0.01)


async def test_channel_budget_applies_to_that_channel_only(start: Starter) -> None:
    app = await start(clock=mid_month())
    response = await app.client.put(
        "/api/v1/budgets",
        json={"scope": "channel", "subject": "GENERAL", "monthly_limit": 0.0015},
        headers=app.headers,
    )
    assert response.status_code == 200 and response.json()["subject"] == "GENERAL"
    general = [(await app.translate(text(i), channel_id="GENERAL")).status_code for i in range(3)]
    assert general == [200, 402, 402]
    assert (await app.translate(text(5), channel_id="RANDOM")).status_code == 200
    assert (await app.translate(text(6))).status_code == 200


async def test_budget_admin_api(start: Starter) -> None:
    app = await start(clock=mid_month())
    created = await set_budget(app, "25")
    again = await set_budget(app, "30.5", soft_limit_ratio=0.9)
    assert again["id"] == created["id"] and again["monthly_limit"] == 30.5
    assert again["soft_limit_ratio"] == 0.9 and again["currency"] == "USD"
    one = await app.client.get(f"/api/v1/budgets/{created['id']}", headers=app.headers)
    assert one.status_code == 200 and one.json()["period"] == again["period"]

    for bad in (
        {"scope": "workspace", "monthly_limit": -1},
        {"scope": "channel", "monthly_limit": 1},
        {"scope": "workspace", "subject": "x", "monthly_limit": 1},
        {"scope": "team", "monthly_limit": 1},
        {"scope": "workspace", "monthly_limit": 1, "soft_limit_ratio": 1.5},
    ):
        response = await app.client.put("/api/v1/budgets", json=bad, headers=app.headers)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "validation_error"

    translate_only, _ = await app.tenant("translator", scopes=("translate",))
    forbidden = await app.client.get("/api/v1/budgets", headers={"X-API-Key": translate_only})
    assert forbidden.status_code == 403

    other_key, _ = await app.tenant("other-workspace")
    other = {"X-API-Key": other_key}
    assert (await app.client.get("/api/v1/budgets", headers=other)).json() == {"budgets": []}
    for method in ("GET", "DELETE"):
        response = await app.client.request(
            method, f"/api/v1/budgets/{created['id']}", headers=other
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (
        await app.client.get("/api/v1/budgets/not-a-uuid", headers=app.headers)
    ).status_code == 404

    deleted = await app.client.delete(f"/api/v1/budgets/{created['id']}", headers=app.headers)
    assert deleted.status_code == 204
    assert (await app.client.get("/api/v1/budgets", headers=app.headers)).json() == {"budgets": []}
    async with services_of(app.litestar).sessions() as session:
        actions = list(await session.scalars(sa.select(AuditEntry.action)))
    assert sorted(actions) == ["budget.delete", "budget.set", "budget.set"]


async def test_a_budget_set_mid_month_counts_the_months_spend(start: Starter) -> None:
    app = await start(clock=mid_month())
    for i in range(3):
        assert (await app.translate(text(i))).status_code == 200
    await app.services.recorder.drain()
    budget = await set_budget(app, "1")
    assert budget["spent"] == pytest.approx(0.003)


async def test_unsettled_reservations_are_released(start: Starter) -> None:
    clock = mid_month()
    app = await start(clock=clock)
    await set_budget(app, "0.0015")
    budgets = app.services.budgets
    from service.translation.engine import Caller

    caller = Caller(workspace_id=app.workspace_id)
    provider = services_of(app.litestar).engine.providers[0]
    await budgets.reserve(caller, provider, PRICE)  # a request that died mid-call
    assert (await app.translate(text(1))).status_code == 402
    assert await budgets.release_stale() == 0  # still within its time to live
    clock.advance(timedelta(seconds=budgets.reservation_ttl + 1))
    assert await budgets.release_stale() == 1
    assert (await app.translate(text(2))).status_code == 200
