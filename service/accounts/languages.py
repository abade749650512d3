"""Detection priors from what we know: the languages a workspace uses, and an author's language.

A workspace's languages are the ones an admin configured (`workspace_settings.languages`) or,
failing that, the source languages seen in its traffic over the last 30 days (at least two,
each at least 2 % of it, so one stray detection does not narrow anything). Answers are cached
per workspace for a few minutes: they change slowly and detection runs on every request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import SYSTEM_CLOCK, Clock
from service.db.models import UsageEvent, User, WorkspaceSettings
from service.db.role import unless_read_only
from service.translation.languages import normalize

TRAFFIC_WINDOW = timedelta(days=30)
MIN_SHARE = 0.02


class LanguagePriors:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._clock = clock  # cache ages
        self._wall_clock = wall_clock  # the traffic window's start
        self._workspaces: dict[uuid.UUID, tuple[float, frozenset[str] | None]] = {}
        self._authors: dict[tuple[uuid.UUID, str], tuple[float, str | None]] = {}

    def forget(self, workspace_id: uuid.UUID) -> None:
        """Drop the cached answer (the workspace's configured languages changed)."""
        self._workspaces.pop(workspace_id, None)

    async def candidates(self, workspace_id: uuid.UUID) -> frozenset[str] | None:
        """The languages to detect among for this workspace, or None for no restriction."""
        now = self._clock()
        cached = self._workspaces.get(workspace_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            value = await self._load_candidates(workspace_id)
        except (SQLAlchemyError, OSError, TimeoutError):
            # Detection works without priors; the database being away must not stop it.
            return cached[1] if cached else None
        self._workspaces[workspace_id] = (now + self._ttl, value)
        return value

    async def _load_candidates(self, workspace_id: uuid.UUID) -> frozenset[str] | None:
        async with self._sessions() as session:
            configured = await session.scalar(
                sa.select(WorkspaceSettings.languages).where(
                    WorkspaceSettings.workspace_id == workspace_id
                )
            )
            if configured:
                codes = {c for c in (normalize(x) for x in configured) if c}
                return frozenset(codes) if len(codes) >= 2 else None
            since = self._wall_clock.now() - TRAFFIC_WINDOW
            rows = await session.execute(
                sa.select(UsageEvent.source_lang, sa.func.count())
                .where(
                    UsageEvent.workspace_id == workspace_id,
                    UsageEvent.created_at >= since,
                    UsageEvent.source_lang.is_not(None),
                )
                .group_by(UsageEvent.source_lang)
            )
            counts = {lang: n for lang, n in rows if lang and lang != "und"}
        total = sum(counts.values())
        seen = {lang for lang, n in counts.items() if total and n / total >= MIN_SHARE}
        return frozenset(seen) if len(seen) >= 2 else None

    async def author_language(self, workspace_id: uuid.UUID, user_id: str | None) -> str | None:
        """The language the Rocket.Chat user `user_id` last wrote in, when we know it."""
        if user_id is None:
            return None
        key = (workspace_id, user_id)
        now = self._clock()
        cached = self._authors.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            async with self._sessions() as session:
                value = await session.scalar(
                    sa.select(User.recent_language).where(
                        User.workspace_id == workspace_id, User.external_id == user_id
                    )
                )
        except (SQLAlchemyError, OSError, TimeoutError):
            return cached[1] if cached else None
        if len(self._authors) > 50_000:
            self._authors.clear()
        # Short-lived: an author's language changes as they write.
        self._authors[key] = (now + min(self._ttl, 30.0), value)
        return value

    async def remember_author_language(
        self, workspace_id: uuid.UUID, user_id: str, language: str
    ) -> None:
        """Record the language `user_id` just wrote in (from a confident detection)."""
        with unless_read_only("an author's recent language"):
            async with self._sessions.begin() as session:
                await session.execute(
                    sa.update(User)
                    .where(User.workspace_id == workspace_id, User.external_id == user_id)
                    .values(recent_language=language)
                )
        self._authors[(workspace_id, user_id)] = (self._clock() + 30.0, language)
