"""Stored message text is purged per each workspace's retention, the server's default otherwise."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.db.models import TranslationMemory, Workspace, WorkspaceSettings
from service.db.session import create_engine, session_factory
from service.settings import Settings
from service.usage.privacy import purge_message_text


async def test_each_workspace_keeps_text_for_its_own_retention(sqlite_settings: Settings) -> None:
    engine = create_engine(sqlite_settings.database_url)
    sessions = session_factory(engine)
    strict, default = uuid.uuid4(), uuid.uuid4()
    # A fixed moment, on a year boundary: ages are counted from the `now` purge is given.
    now = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)

    def row(key: str, workspace_id: uuid.UUID | None, age_days: int) -> TranslationMemory:
        return TranslationMemory(
            cache_key=key,
            workspace_id=workspace_id,
            source_lang="en",
            target_lang="es",
            provider="apertium",
            translated_text="hola",
            meta={},
            created_at=now - timedelta(days=age_days),
        )

    try:
        async with sessions.begin() as session:
            session.add_all(
                [Workspace(id=strict, name="strict"), Workspace(id=default, name="lax")]
            )
            await session.flush()
            session.add(WorkspaceSettings(workspace_id=strict, message_retention_days=2))
            session.add_all(
                [
                    row("strict-old", strict, 5),
                    row("strict-new", strict, 1),
                    row("default-5d", default, 5),
                    row("default-40d", default, 40),
                    row("unowned-40d", None, 40),
                ]
            )
        purged = await purge_message_text(sessions, retention_days=30, now=now)
        async with sessions() as session:
            left = set((await session.scalars(sa.select(TranslationMemory.cache_key))).all())
    finally:
        await engine.dispose()
    assert left == {"strict-new", "default-5d"}
    assert purged == 3
