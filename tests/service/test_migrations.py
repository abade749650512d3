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
