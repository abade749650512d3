"""Alembic environment: runs migrations over the async engine for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db.migrate import LOCK_POLL_SECONDS, MIGRATION_LOCK_ID
from service.db.models import Base
from service.db.session import create_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


@contextlib.asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """On PostgreSQL, one migration run at a time per database.

    Replicas starting together (or the Job and a replica) would each create the same tables.
    They take turns on a session-level advisory lock, held on a connection of its own across
    the whole run (a transaction-level lock would end at the first autocommit block). The lock
    is polled, not waited for inside a statement: a waiting statement holds a snapshot, which
    `CREATE INDEX CONCURRENTLY` in the running migration would wait for in turn (a deadlock).
    The next run then finds the schema at head and does nothing.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as lock:
        lock = await lock.execution_options(isolation_level="AUTOCOMMIT")
        take = text("SELECT pg_try_advisory_lock(:id)")
        while True:
            if await lock.scalar(take, {"id": MIGRATION_LOCK_ID}):
                break
            await asyncio.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            await lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})


async def _run_async() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with _migration_lock(engine), engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `utp db upgrade`")
asyncio.run(_run_async())
