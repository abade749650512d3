"""Privacy requests: export everything stored about a user, erase a user, purge old text.

Erasing keeps the ledger's totals right: the user's usage events and rollups lose their user id
(they are merged into the anonymous rows) rather than being dropped. A keyed digest of the
erased id is remembered, so events of that user still waiting in some replica's outbox arrive
anonymised too. The audit log of configuration changes is append-only and is left as it is
(its `actor` names who changed a setting; exporting it is part of the export).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import (
    AuditEntry,
    Budget,
    BudgetPeriod,
    ChatDelivery,
    TranslationMemory,
    UsageDaily,
    UsageEvent,
    User,
    UserErasure,
    UserPreferences,
    WorkspaceSettings,
)
from service.db.session import insert_for
from service.errors import NotFound
from service.usage import rollup
from service.usage.recorder import TRANSIENT, UsageRecorder, erasure_digest

log = logging.getLogger(__name__)


async def _settle_outbox(recorder: UsageRecorder | None) -> None:
    """Let events recorded so far reach the database, so they are exported or anonymised."""
    if recorder is None:
        return
    try:
        async with asyncio.timeout(10):
            await recorder.drain()
    except TRANSIENT as exc:
        log.warning("privacy request: outbox not drained (%s)", type(exc).__name__)


async def _user_row(session: AsyncSession, workspace_id: uuid.UUID, user_id: str) -> User | None:
    return await session.scalar(
        sa.select(User).where(User.workspace_id == workspace_id, User.external_id == user_id)
    )


def _plain(row: Any, *skip: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime) or hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int | float | bool | list | dict):
            value = str(value)
        out[column.key] = value
    return out


async def export_user(
    sessions: async_sessionmaker[AsyncSession],
    recorder: UsageRecorder | None,
    workspace_id: uuid.UUID,
    user_id: str,
) -> dict[str, Any]:
    """Everything stored about `user_id` (their Rocket.Chat id) in this workspace."""
    await _settle_outbox(recorder)
    async with sessions() as session:
        user = await _user_row(session, workspace_id, user_id)
        preferences = await session.get(UserPreferences, user.id) if user is not None else None
        events = (
            await session.scalars(
                sa.select(UsageEvent)
                .where(UsageEvent.workspace_id == workspace_id, UsageEvent.user_id == user_id)
                .order_by(UsageEvent.created_at, UsageEvent.id)
            )
        ).all()
        budgets = (
            await session.execute(
                sa.select(Budget, BudgetPeriod)
                .outerjoin(BudgetPeriod, BudgetPeriod.budget_id == Budget.id)
                .where(
                    Budget.workspace_id == workspace_id,
                    Budget.scope == "user",
                    Budget.subject == user_id,
                )
                .order_by(BudgetPeriod.period)
            )
        ).all()
        audit = (
            await session.scalars(
                sa.select(AuditEntry)
                .where(
                    AuditEntry.workspace_id == workspace_id,
                    sa.or_(
                        AuditEntry.actor == f"user:{user_id}",
                        AuditEntry.target == f"user:{user_id}",
                    ),
                )
                .order_by(AuditEntry.created_at)
            )
        ).all()
    if user is None and not events and not budgets and not audit:
        raise NotFound("nothing is stored about this user in this workspace")
    budget_rows: dict[uuid.UUID, dict[str, Any]] = {}
    for budget, period in budgets:
        entry = budget_rows.setdefault(budget.id, {**_plain(budget, "workspace_id"), "periods": []})
        if period is not None:
            entry["periods"].append(_plain(period, "budget_id"))
    return {
        "user_id": user_id,
        "workspace_id": str(workspace_id),
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": _plain(user, "workspace_id") if user is not None else None,
        "preferences": _plain(preferences, "user_id") if preferences is not None else None,
        "budgets": list(budget_rows.values()),
        "usage_events": [_plain(e, "workspace_id", "user_id") for e in events],
        "audit_log": [_plain(a, "workspace_id") for a in audit],
    }


async def erase_user(
    session: AsyncSession,
    recorder: UsageRecorder | None,
    workspace_id: uuid.UUID,
    user_id: str,
    *,
    erasure_key: bytes,
) -> dict[str, int]:
    """Erase `user_id` from this workspace, in the caller's transaction; returns counts."""
    await _settle_outbox(recorder)
    user = await _user_row(session, workspace_id, user_id)
    events = await session.execute(
        sa.update(UsageEvent)
        .where(UsageEvent.workspace_id == workspace_id, UsageEvent.user_id == user_id)
        .values(user_id=None)
    )
    anonymised = int(getattr(events, "rowcount", 0) or 0)
    daily = (
        await session.scalars(
            sa.select(UsageDaily).where(
                UsageDaily.workspace_id == workspace_id, UsageDaily.user_id == user_id
            )
        )
    ).all()
    if daily:
        merged = []
        for row in daily:
            values = {c.key: getattr(row, c.key) for c in UsageDaily.__table__.columns}
            values["user_id"] = ""
            merged.append(values)
        await session.execute(
            sa.delete(UsageDaily).where(
                UsageDaily.workspace_id == workspace_id, UsageDaily.user_id == user_id
            )
        )
        await session.execute(rollup.upsert(session, merged))
    budgets = await session.execute(
        sa.delete(Budget).where(
            Budget.workspace_id == workspace_id, Budget.scope == "user", Budget.subject == user_id
        )
    )
    if user is not None:
        await session.execute(sa.delete(UserPreferences).where(UserPreferences.user_id == user.id))
        await session.execute(sa.delete(User).where(User.id == user.id))
    digest = erasure_digest(erasure_key, workspace_id, user_id)
    await session.execute(
        insert_for(session)(UserErasure)
        .values(subject_hash=digest, workspace_id=workspace_id, erased_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["subject_hash"])
    )
    if user is None and not anonymised and not daily and not getattr(budgets, "rowcount", 0):
        raise NotFound("nothing is stored about this user in this workspace")
    return {
        "profile": int(user is not None),
        "usage_events_anonymised": anonymised,
        "budgets": int(getattr(budgets, "rowcount", 0) or 0),
    }


async def purge_message_text(
    sessions: async_sessionmaker[AsyncSession], *, retention_days: int, now: datetime
) -> int:
    """Delete stored translations (message text) past their retention; returns how many.

    A workspace's own `message_retention_days` applies to its rows; `retention_days` (the
    server's `UTP_MESSAGE_RETENTION_DAYS`) to the rest. The bot's delivery records (ids only,
    no text) follow the same clock, since an edit older than that has nothing to replace.
    """
    purged = 0
    async with sessions.begin() as session:
        own = await session.execute(
            sa.select(WorkspaceSettings.workspace_id, WorkspaceSettings.message_retention_days)
        )
        configured = dict(own.all())
        for workspace_id, days in configured.items():
            cutoff = now - timedelta(days=days)
            for model in (TranslationMemory, ChatDelivery):
                result = await session.execute(
                    sa.delete(model).where(
                        model.workspace_id == workspace_id, model.created_at < cutoff
                    )
                )
                purged += int(getattr(result, "rowcount", 0) or 0)
        cutoff = now - timedelta(days=retention_days)
        for model in (TranslationMemory, ChatDelivery):
            others = model.workspace_id.is_(None) | model.workspace_id.not_in(list(configured))
            result = await session.execute(
                sa.delete(model).where(model.created_at < cutoff, others)
            )
            purged += int(getattr(result, "rowcount", 0) or 0)
    if purged:
        log.info("retention: purged %d stored translation(s) of %d+ days", purged, retention_days)
    return purged
