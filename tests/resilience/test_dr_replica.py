"""The service in the DR region before promotion, against a real PostgreSQL streaming replica:
translations served, usage events held in the outbox, writes answered 503 `read_only_region`,
readiness reporting role "replica"; then the standby is promoted and, with no restart, the role
flips to primary, the outbox drains into the database and writes succeed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ops_common.healthcheck import CheckOptions, run_check
from service.db.models import BudgetPeriod, UsageEvent, Workspace
from service.db.role import DatabaseRole, refuses_writes
from service.db.session import create_engine, session_factory
from service.usage.budgets import Budgets
from tests.resilience.conftest import Service, eventually, serve, settings_for
from tests.servers import Replicated
from tests.service.scripted import ScriptedProvider

pytestmark = pytest.mark.postgres


@pytest.fixture
async def standby_engine(replicated: Replicated) -> AsyncIterator[sa.ext.asyncio.AsyncEngine]:
    engine = create_engine(replicated.standby.url())
    yield engine
    await engine.dispose()


async def _count(url: str, table: type[UsageEvent]) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
    finally:
        await engine.dispose()


async def _budgets(url: str) -> None:
    """A generous workspace budget and a channel whose budget is spent (limit 0)."""
    engine = create_engine(url)
    try:
        budgets = Budgets(session_factory(engine))
        async with session_factory(engine).begin() as session:
            workspace_id = await session.scalar(sa.select(Workspace.id))
            assert isinstance(workspace_id, uuid.UUID)
            for scope, subject, limit in (
                ("workspace", None, Decimal(100)),
                ("channel", "closed-room", Decimal(0)),
            ):
                await budgets.put(
                    session,
                    workspace_id,
                    scope=scope,
                    subject=subject,
                    monthly_limit=limit,
                    soft_limit_ratio=None,
                )
    finally:
        await engine.dispose()


async def _workspace_spend(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.sum(BudgetPeriod.spent_nanos))) or 0)
    finally:
        await engine.dispose()


async def _ready(service: Service) -> tuple[int, dict[str, object]]:
    response = await service.client.get("/health/ready")
    return response.status_code, response.json()


async def test_replica_serves_translations_holds_usage_and_refuses_writes_until_promoted(
    replicated: Replicated, data_dir: Path
) -> None:
    standby_url = replicated.standby.url()

    async def seed() -> None:
        await _budgets(replicated.primary.url())
        await replicated.caught_up()

    settings = settings_for(data_dir, database_url=standby_url)
    sent = 0  # requests that leave a usage event
    async with serve(
        settings,
        [ScriptedProvider("scripted", pairs=None)],
        seed=seed,
        seed_url=replicated.primary.url(),
    ) as service:
        # Readiness: ready (Route 53 may send traffic here) and says what it is.
        status, body = await _ready(service)
        assert status == 200
        assert body["role"] == "replica"
        assert body["checks"]["database"] == {  # type: ignore[index]
            "status": "ok",
            "role": "replica",
            "duration_ms": body["checks"]["database"]["duration_ms"],  # type: ignore[index]
        }
        metrics = (await service.client.get("/metrics")).text
        assert 'utp_database_role{role="replica"} 1.0' in metrics
        assert 'utp_database_role{role="primary"} 0.0' in metrics
        # `utp health-check` (and the deploy gate it serves) calls a warm replica healthy.
        report = await asyncio.to_thread(run_check, service.url, CheckOptions(api_key=service.key))
        assert report.status == "ok", report.components
        database = report.component("database")
        assert database is not None
        assert database.data == {"role": "replica"}
        assert database.detail == "replica: read-only until promoted"
        sent += 1  # its translation round trip

        # Translations are served: the v1 API (new texts and a cache hit) and LibreTranslate's.
        texts = [f"Message {i} from the DR region" for i in range(5)]
        for text in [*texts, texts[0]]:
            response = await service.translate(text)
            assert response.status_code == 200, response.text
            assert response.json()["translated_text"] == f"[es] {text}"
        libre = await service.client.post(
            "/libretranslate/translate",
            json={
                "q": "Hello from the replica",
                "source": "en",
                "target": "es",
                "api_key": service.key,
            },
        )
        assert libre.status_code == 200, libre.text
        assert libre.json()["translatedText"] == "[es] Hello from the replica"
        sent += len(texts) + 2

        # A channel whose budget the replicated spend already exhausts is still refused.
        closed = await service.client.post(
            "/api/v1/translate",
            json={"text": "Over budget", "target_lang": "es", "channel_id": "closed-room"},
            headers=service.headers,
        )
        assert closed.status_code == 402, closed.text
        assert closed.json()["error"]["code"] == "budget_exceeded"
        sent += 1  # the refusal is in the ledger too

        # Usage events wait in the outbox: nothing reached (or could reach) the database.
        recorder = service.services.usage.recorder
        assert recorder.pending >= sent
        assert await _count(standby_url, UsageEvent) == 0

        # Reads work; writes are refused with the region's 503 before touching anything.
        listed = await service.client.get("/api/v1/glossaries", headers=service.headers)
        assert listed.status_code == 200, listed.text
        refused = await service.client.post(
            "/api/v1/glossaries", json={"name": "dr"}, headers=service.headers
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "30"
        error = refused.json()["error"]
        assert error["code"] == "read_only_region"
        assert "read-only replica" in error["message"]
        assert error["request_id"] == refused.headers["x-request-id"]
        budget = await service.client.put(
            "/api/v1/budgets",
            json={"scope": "user", "subject": "u1", "monthly_limit": "5"},
            headers=service.headers,
        )
        assert budget.status_code == 503
        assert budget.json()["error"]["code"] == "read_only_region"
        # Without credentials the answer is still 401, not the region's state.
        anonymous = await service.client.post("/api/v1/glossaries", json={"name": "dr"})
        assert anonymous.status_code == 401

        # Promotion: no restart, no configuration.
        await asyncio.to_thread(replicated.standby.promote)
        status, body = await _ready(service)
        assert (status, body["role"]) == (200, "primary")

        async def drained() -> bool:
            return recorder.pending == 0 and await _count(standby_url, UsageEvent) >= sent

        await eventually(drained, seconds=20)
        assert await _count(standby_url, UsageEvent) == sent
        # What was spent on the replica counts against the budgets once promoted.
        await eventually(lambda: _positive(_workspace_spend(standby_url)), seconds=20)

        created = await service.client.post(
            "/api/v1/glossaries", json={"name": "dr"}, headers=service.headers
        )
        assert created.status_code == 201, created.text
        metrics = (await service.client.get("/metrics")).text
        assert 'utp_database_role{role="primary"} 1.0' in metrics


async def _positive(value: object) -> bool:
    assert asyncio.iscoroutine(value)
    return bool(await value > 0)


async def test_a_write_the_replica_refuses_switches_the_role_at_once(
    standby_engine: sa.ext.asyncio.AsyncEngine,
) -> None:
    """Before any check (a role believed primary), the database's own refusal (SQLSTATE
    25006) is recognised and switches the role, so the next write is refused up front."""
    role = DatabaseRole(standby_engine, interval=3600)
    assert role.role == "primary"
    with pytest.raises(DBAPIError) as refused:
        async with standby_engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (id int)"))
    assert refuses_writes(refused.value)
    assert role.read_only
    assert await role.check() == "replica"
    await role.stop()


async def test_the_periodic_check_follows_promotion_without_any_request(
    replicated: Replicated, standby_engine: sa.ext.asyncio.AsyncEngine
) -> None:
    role = DatabaseRole(standby_engine, interval=0.05)
    role.start()
    try:

        async def role_is(expected: str) -> bool:
            return role.role == expected

        await eventually(lambda: role_is("replica"))
        await asyncio.to_thread(replicated.standby.promote)
        await eventually(lambda: role_is("primary"))
        # Stopped: unreachable is not a role, the last one known stands.
        await asyncio.to_thread(replicated.standby.stop)
        await asyncio.sleep(0.3)
        assert role.role == "primary"
    finally:
        await role.stop()


async def test_a_primary_fenced_read_only_is_a_replica_too(
    replicated: Replicated, data_dir: Path
) -> None:
    """An old primary fenced with `default_transaction_read_only` (not in recovery) refuses
    writes too: whichever notices first, the check or the database's own refusal, the answer
    is the region's 503, and readiness says replica; lifting the fence makes it primary."""
    url = replicated.primary.url()
    async with serve(
        settings_for(data_dir, database_url=url), [ScriptedProvider("scripted", pairs=None)]
    ) as service:
        assert (await _ready(service))[1]["role"] == "primary"
        await _fence(replicated, "on")
        refused = await service.client.post(
            "/api/v1/glossaries", json={"name": "fenced"}, headers=service.headers
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "read_only_region"
        assert refused.headers["retry-after"] == "30"
        assert service.services.database_role.read_only
        assert (await _ready(service))[1]["role"] == "replica"
        assert (await service.translate("Still served")).status_code == 200

        await _fence(replicated, "off")
        assert (await _ready(service))[1]["role"] == "primary"
        created = await service.client.post(
            "/api/v1/glossaries", json={"name": "fenced"}, headers=service.headers
        )
        assert created.status_code == 201, created.text


async def _fence(replicated: Replicated, value: str) -> None:
    conn = await asyncpg.connect(replicated.primary.dsn())
    try:
        await conn.execute(f"ALTER SYSTEM SET default_transaction_read_only = {value}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()
