"""PostgreSQL stopped for a while in the middle of a stream of translations: translations go on,
and once it is back the ledger holds exactly one row per request."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service.db.models import UsageDaily, UsageEvent
from service.db.session import create_engine
from tests.resilience.conftest import Stream, eventually, repeats, serve, settings_for
from tests.servers import PostgresServer
from tests.service.scripted import ScriptedProvider

pytestmark = pytest.mark.postgres

# Longer than the API-key cache below: the outage outlives every remembered verification.
KEY_CACHE_SECONDS = 0.5
OUTAGE_SECONDS = 3 * KEY_CACHE_SECONDS


async def _ledger(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.scalar(sa.select(sa.func.count()).select_from(UsageEvent))
            ids = await conn.scalar(sa.select(sa.func.count(sa.distinct(UsageEvent.id))))
            daily = await conn.scalar(sa.select(sa.func.sum(UsageDaily.requests)))
    finally:
        await engine.dispose()
    return int(rows or 0), int(ids or 0), int(daily or 0)


async def test_postgres_stopped_mid_stream_translations_continue_and_ledger_is_exact(
    postgres_server: PostgresServer, postgres_url: str, data_dir: Path
) -> None:
    settings = settings_for(
        data_dir, database_url=postgres_url, api_key_cache_seconds=KEY_CACHE_SECONDS
    )
    provider = ScriptedProvider("scripted", pairs=None)
    async with serve(settings, [provider]) as service:
        stream = Stream(service, repeats())
        stream.start()
        try:
            await stream.until(40)
            postgres_server.stop()
            try:
                await stream.until(60, at_least=OUTAGE_SECONDS)
                assert service.services.usage.recorder.pending > 0
            finally:
                postgres_server.start()
            await stream.until(40)
        finally:
            results = await stream.stop()

        assert stream.errors == []
        assert [(r.status, r.body) for r in results if r.status != 200] == []
        assert all(r.body["translated_text"] == f"[es] {r.text}" for r in results)
        sent = len(results)

        async def written() -> bool:
            return (await _ledger(postgres_url))[0] >= sent

        await eventually(written, seconds=40)
        rows, ids, daily = await _ledger(postgres_url)
        assert (rows, ids, daily) == (sent, sent, sent)
        assert service.services.usage.recorder.pending == 0
