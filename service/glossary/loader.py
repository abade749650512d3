"""The glossary a translation uses, as an immutable `GlossarySnapshot`, cached per channel.

A workspace's translation uses its workspace-wide glossaries plus, when the request names a
channel, the glossaries of that channel (and the one its channel settings point at); a
channel's term wins over a workspace term for the same language pair and source term.

The snapshot's tag (its id and version) changes whenever any of those glossaries changes, so
cached translations made with an older glossary are never served. An edit invalidates this
replica's entries at once; other replicas notice within `ttl` seconds (one cheap query for
the glossaries' versions; the entries are reloaded only when a version changed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import ChannelSettings, Glossary, GlossaryEntry
from service.translation.glossary import GlossarySnapshot, Term

log = logging.getLogger(__name__)

_Key = tuple[uuid.UUID, str | None]


@dataclass
class _Entry:
    snapshot: GlossarySnapshot | None
    versions: tuple[tuple[uuid.UUID, int], ...]
    checked_at: float


class GlossaryLoader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: float = 10.0,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._locks: dict[_Key, asyncio.Lock] = {}

    def invalidate(self, workspace_id: uuid.UUID) -> None:
        for key, entry in self._entries.items():
            if key[0] == workspace_id:
                entry.checked_at = float("-inf")

    async def snapshot(
        self, workspace_id: uuid.UUID, channel_id: str | None = None
    ) -> GlossarySnapshot | None:
        key = (workspace_id, channel_id)
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry.checked_at < self._ttl:
            self._entries.move_to_end(key)
            return entry.snapshot
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                entry = self._entries.get(key)
                if entry is not None and time.monotonic() - entry.checked_at < self._ttl:
                    return entry.snapshot
                return await self._refresh(key, entry)
        finally:
            if not lock.locked() and len(self._locks) > self._max_entries:
                self._locks.pop(key, None)

    async def _refresh(self, key: _Key, entry: _Entry | None) -> GlossarySnapshot | None:
        workspace_id, channel_id = key
        try:
            async with self._sessions() as session:
                versions = await _versions(session, workspace_id, channel_id)
                if entry is not None and entry.versions == versions:
                    entry.checked_at = time.monotonic()
                    return entry.snapshot
                snapshot = await _load(session, versions) if versions else None
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            # Database down: keep translating with what we knew (or without a glossary).
            log.warning("glossaries unavailable: %s", type(exc).__name__)
            if entry is not None:
                entry.checked_at = time.monotonic()
                return entry.snapshot
            return None
        self._entries[key] = _Entry(snapshot, versions, time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return snapshot


async def _versions(
    session: AsyncSession, workspace_id: uuid.UUID, channel_id: str | None
) -> tuple[tuple[uuid.UUID, int], ...]:
    """The glossaries that apply, workspace-wide ones first, with their versions."""
    scope: sa.ColumnElement[bool] = Glossary.channel_id.is_(None)
    if channel_id is not None:
        pointed = (
            sa.select(ChannelSettings.glossary_id)
            .where(
                ChannelSettings.workspace_id == workspace_id,
                ChannelSettings.channel_id == channel_id,
            )
            .scalar_subquery()
        )
        scope = sa.or_(scope, Glossary.channel_id == channel_id, Glossary.id == pointed)
    found = await session.execute(
        sa.select(Glossary.id, Glossary.version)
        .where(Glossary.workspace_id == workspace_id, scope)
        .order_by(Glossary.channel_id.is_not(None), Glossary.created_at, Glossary.id)
    )
    return tuple((gid, version) for gid, version in found)


async def _load(
    session: AsyncSession, versions: tuple[tuple[uuid.UUID, int], ...]
) -> GlossarySnapshot | None:
    ids = [gid for gid, _ in versions]
    rank = {gid: i for i, gid in enumerate(ids)}
    found = await session.scalars(
        sa.select(GlossaryEntry).where(GlossaryEntry.glossary_id.in_(ids))
    )
    entries = sorted(found, key=lambda e: (rank[e.glossary_id], e.source_lang, e.source_term))
    terms: dict[tuple[str, str | None, str], Term] = {}
    for e in entries:
        # Later (channel) glossaries override earlier (workspace) ones.
        terms[(e.source_lang, e.target_lang, e.source_term.casefold())] = Term(
            source_lang=e.source_lang,
            source=e.source_term,
            target_lang=e.target_lang if e.target_term else None,
            target=e.target_term or None,
        )
    if not terms:
        return None
    ordered = tuple(terms.values())
    content = hashlib.sha256(repr(ordered).encode()).hexdigest()[:16]
    scope = "+".join(str(gid) for gid in ids)
    return GlossarySnapshot(
        id=f"{scope}#{content}",
        scope=scope,
        version=sum(version for _, version in versions),
        terms=ordered,
    )
