"""The schema migrates from empty to head, identically, on SQLite and real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.migrate import downgrade, upgrade
from service.db.models import Base


async def _columns(url: str) -> dict[str, dict[str, tuple[str, bool]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: sa.Connection) -> dict[str, dict[str, tuple[str, bool]]]:
                inspector = sa.inspect(sync_conn)
                return {
                    table: {
                        c["name"]: (type(c["type"]).__name__, bool(c["nullable"]))
                        for c in inspector.get_columns(table)
                    }
                    for table in inspector.get_table_names()
                    if table != "alembic_version"
                }

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def _expected() -> dict[str, set[str]]:
    return {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}


async def test_sqlite_migrates_to_head_and_back(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(upgrade, url)
    columns = await _columns(url)
    assert {t: set(c) for t, c in columns.items()} == _expected()
    await asyncio.to_thread(downgrade, url, "base")
    assert await _columns(url) == {}


async def test_postgres_migrates_to_head_with_the_same_schema(
    postgres_url: str, tmp_path: Path
) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, postgres_url)
    pg = await _columns(postgres_url)
    assert {t: set(c) for t, c in pg.items()} == _expected()
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    await asyncio.to_thread(upgrade, sqlite_url)
    lite = await _columns(sqlite_url)
    # Same tables, columns and nullability on both engines.
    assert {t: {c: n for c, (_, n) in cols.items()} for t, cols in pg.items()} == {
        t: {c: n for c, (_, n) in cols.items()} for t, cols in lite.items()
    }


async def test_postgres_timestamps_keep_their_time_zone(postgres_url: str) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            kind = await conn.scalar(
                sa.text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'usage_events' AND column_name = 'created_at'"
                )
            )
    finally:
        await engine.dispose()
    assert kind == "timestamp with time zone"


async def test_a_schema_migrated_by_a_newer_release_is_left_as_it_is(tmp_path: Path) -> None:
    import asyncio

    from service.db.migrate import database_revisions

    url = f"sqlite+aiosqlite:///{tmp_path / 'ahead.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            # What a release with one more migration leaves behind.
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
            await conn.execute(sa.text("CREATE TABLE future_feature (id INTEGER PRIMARY KEY)"))
    finally:
        await engine.dispose()

    said = await asyncio.to_thread(upgrade, url)
    assert said is not None and "0099_future" in said and "never downgraded" in said
    assert await database_revisions(url) == {"0099_future"}
    assert "future_feature" in await _columns(url)


async def test_postgres_has_the_retention_indexes(postgres_url: str) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_async_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%created'"
                )
            )
            found = dict(rows.all())
    finally:
        await engine.dispose()
    for name, table in (
        ("ix_translation_memory_workspace_created", "translation_memory"),
        ("ix_chat_deliveries_workspace_created", "chat_deliveries"),
    ):
        assert f"ON public.{table} USING btree (workspace_id, created_at)" in found[name]


async def _heads(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL"))
            if not exists:
                return []
            return list(await conn.scalars(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        await engine.dispose()


async def test_concurrent_postgres_migrations_take_turns(postgres_url: str) -> None:
    """Replicas (or the Job and a replica) migrating one empty database at once, each in its
    own process as in a cluster: both finish, and the schema is created once, at head."""
    import asyncio
    import sys

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from service.db.migrate import MIGRATIONS

    code = "import sys; from service.db.migrate import upgrade; sys.exit(upgrade(sys.argv[1]))"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, postgres_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    for process in processes:
        _, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, err.decode()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert await _heads(postgres_url) == [ScriptDirectory.from_config(config).get_current_head()]
    assert set(await _columns(postgres_url)) == set(_expected())


async def test_a_migration_waits_for_the_one_holding_the_lock(postgres_url: str) -> None:
    import asyncio

    import asyncpg

    from service.db.migrate import MIGRATION_LOCK_ID

    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        migrating = asyncio.ensure_future(asyncio.to_thread(upgrade, postgres_url))
        # Wait until the migration has asked for the lock: a condition, not a time.
        asked = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND query LIKE '%pg_try_advisory_lock%'"
        )
        while not await holder.fetchval(asked):
            assert not migrating.done(), migrating.result()
            await asyncio.sleep(0.02)
        assert await _heads(postgres_url) == []  # nothing was created while it waited
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
        assert await migrating is None
    finally:
        await holder.close()
    assert len(await _heads(postgres_url)) == 1
