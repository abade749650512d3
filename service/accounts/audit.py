"""Append-only audit log of configuration changes: who, what, when, before/after, request id.

Nothing here updates or deletes a row. Values are masked before they are stored: any field whose
name says it is a secret keeps only the fact that it is set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.keys import Principal
from service.db.models import AuditEntry
from service.observability.logging import request_id_var

MASK = "********"
_SECRET_MARKERS = ("token", "secret", "password", "api_key", "key_hash", "credential")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def mask(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy with secrets replaced by a mask (or None when they are unset)."""
    if values is None:
        return None
    return {key: _masked(key, value) for key, value in values.items()}


def _masked(key: str, value: Any) -> Any:
    if is_secret_field(key):
        return MASK if value else None
    if isinstance(value, Mapping):
        return {str(k): _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(key, v) for v in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def actor_of(principal: Principal) -> str:
    """A stable, secret-free description of who acted."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    return f"api_key:{principal.api_key_id}"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    workspace_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Write one entry in the caller's transaction, so it commits exactly with the change."""
    session.add(
        AuditEntry(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            actor=actor[:200],
            action=action[:64],
            target=target[:200],
            before=mask(before),
            after=mask(after),
            request_id=request_id_var.get(),
        )
    )
    await session.flush()


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before: datetime | None


async def entries(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int = 100,
    before: datetime | None = None,
    action: str | None = None,
) -> AuditPage:
    """Newest first; `before` pages further back."""
    query = sa.select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
    if before is not None:
        query = query.where(AuditEntry.created_at < before)
    if action:
        query = query.where(AuditEntry.action == action)
    rows = list(
        await session.scalars(
            query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(entries=rows, next_before=rows[-1].created_at if more and rows else None)
