"""Glossary CRUD, scoped to a workspace: another workspace's glossary is simply not found.

Every change to a glossary or its entries bumps its version in the same transaction (an atomic
`version = version + 1`, so concurrent edits never share a version); the version is part of the
translation cache key, so an edit stops old translations from being served.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Glossary, GlossaryEntry
from service.errors import NotFound, ServiceError, ValidationFailed
from service.glossary.terms import MAX_ENTRIES, Row

MAX_NAME_CHARS = 200
MAX_CHANNEL_CHARS = 64


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such glossary") from None


async def get(session: AsyncSession, workspace_id: uuid.UUID, glossary_id: uuid.UUID) -> Glossary:
    row = await session.scalar(
        sa.select(Glossary).where(Glossary.id == glossary_id, Glossary.workspace_id == workspace_id)
    )
    if row is None:
        raise NotFound("no such glossary")
    return row


async def listing(
    session: AsyncSession, workspace_id: uuid.UUID, *, channel_id: str | None = None
) -> list[tuple[Glossary, int]]:
    counts = (
        sa.select(GlossaryEntry.glossary_id, sa.func.count().label("n"))
        .group_by(GlossaryEntry.glossary_id)
        .subquery()
    )
    query = (
        sa.select(Glossary, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.glossary_id == Glossary.id)
        .where(Glossary.workspace_id == workspace_id)
        .order_by(Glossary.channel_id.is_not(None), Glossary.channel_id, Glossary.name)
    )
    if channel_id is not None:
        query = query.where(Glossary.channel_id == channel_id)
    return [(g, int(n)) for g, n in (await session.execute(query)).all()]


async def rows(session: AsyncSession, glossary_id: uuid.UUID) -> list[Row]:
    found = await session.scalars(
        sa.select(GlossaryEntry).where(GlossaryEntry.glossary_id == glossary_id)
    )
    return [Row(e.source_lang, e.target_lang, e.source_term, e.target_term) for e in found]


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValidationFailed(f"name: 1 to {MAX_NAME_CHARS} characters", details={"field": "name"})
    return name


def _check_channel(channel_id: str | None) -> str | None:
    if channel_id is None:
        return None
    # The length as sent (what the API's schema states), then surrounding white space dropped.
    if len(channel_id) > MAX_CHANNEL_CHARS or not channel_id.strip():
        raise ValidationFailed(
            f"channel_id: 1 to {MAX_CHANNEL_CHARS} characters, or null for the whole workspace",
            details={"field": "channel_id"},
        )
    return channel_id.strip()


async def _unique_name(
    session: AsyncSession, workspace_id: uuid.UUID, name: str, *, other_than: uuid.UUID | None
) -> None:
    query = sa.select(Glossary.id).where(
        Glossary.workspace_id == workspace_id, Glossary.name == name
    )
    if other_than is not None:
        query = query.where(Glossary.id != other_than)
    if await session.scalar(query) is not None:
        raise Conflict(f"this workspace already has a glossary named {name!r}")


async def create(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    name: str,
    channel_id: str | None,
    entries: Sequence[Row],
) -> Glossary:
    name = _check_name(name)
    await _unique_name(session, workspace_id, name, other_than=None)
    glossary = Glossary(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        name=name,
        channel_id=_check_channel(channel_id),
        version=1,
    )
    session.add(glossary)
    await session.flush()
    await _insert(session, glossary.id, entries)
    return glossary


async def update(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    glossary_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    entries: Sequence[Row] | None = None,
) -> Glossary:
    """`changes` may hold `name` and `channel_id`; `entries` replaces every entry when given."""
    glossary = await get(session, workspace_id, glossary_id)
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _check_name(changes["name"])
        await _unique_name(session, workspace_id, values["name"], other_than=glossary_id)
    if "channel_id" in changes:
        values["channel_id"] = _check_channel(changes["channel_id"])
    if entries is not None:
        await session.execute(
            sa.delete(GlossaryEntry).where(GlossaryEntry.glossary_id == glossary_id)
        )
        await _insert(session, glossary_id, entries)
    return await _bump(session, glossary, values)


async def merge(
    session: AsyncSession, workspace_id: uuid.UUID, glossary_id: uuid.UUID, entries: Sequence[Row]
) -> Glossary:
    """Add `entries`, replacing existing ones with the same language pair and source term."""
    glossary = await get(session, workspace_id, glossary_id)
    existing = {r.key: r for r in await rows(session, glossary_id)}
    for row in entries:
        existing[row.key] = row
    if len(existing) > MAX_ENTRIES:
        raise ValidationFailed(
            f"a glossary holds at most {MAX_ENTRIES} entries; this would make {len(existing)}",
            code="invalid_glossary",
        )
    await session.execute(sa.delete(GlossaryEntry).where(GlossaryEntry.glossary_id == glossary_id))
    await _insert(session, glossary_id, list(existing.values()))
    return await _bump(session, glossary, {})


async def delete(session: AsyncSession, workspace_id: uuid.UUID, glossary_id: uuid.UUID) -> None:
    glossary = await get(session, workspace_id, glossary_id)
    await session.execute(sa.delete(GlossaryEntry).where(GlossaryEntry.glossary_id == glossary_id))
    await session.delete(glossary)
    await session.flush()


async def _insert(session: AsyncSession, glossary_id: uuid.UUID, entries: Sequence[Row]) -> None:
    if not entries:
        return
    await session.execute(
        sa.insert(GlossaryEntry),
        [
            {
                "id": uuid.uuid4(),
                "glossary_id": glossary_id,
                "source_lang": r.source_lang,
                "target_lang": r.target_lang,
                "source_term": r.source_term,
                "target_term": r.target_term,
            }
            for r in entries
        ],
    )


async def _bump(session: AsyncSession, glossary: Glossary, values: dict[str, Any]) -> Glossary:
    await session.execute(
        sa.update(Glossary)
        .where(Glossary.id == glossary.id)
        .values(version=Glossary.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(glossary)
    return glossary
