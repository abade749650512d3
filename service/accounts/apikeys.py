"""API key management for a workspace: create (shown once), list with last use, revoke."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import audit
from service.accounts.keys import GRANTABLE_SCOPES, SCOPES, IssuedKey, issue_key
from service.clock import SYSTEM_CLOCK, Clock
from service.db.models import ApiKey
from service.errors import NotFound, ValidationFailed

MAX_EXPIRY_DAYS = 3650


def describe(row: ApiKey, *, clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
    """Everything about a key except its secret (which is not stored anyway)."""
    now = clock.now()
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scopes.split(),
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
        "status": status,
    }


def check_scopes(scopes: Sequence[str], *, allow_operator: bool) -> tuple[str, ...]:
    allowed = SCOPES if allow_operator else GRANTABLE_SCOPES
    if not scopes:
        raise ValidationFailed("scopes: give at least one scope", details={"field": "scopes"})
    unknown = [s for s in scopes if s not in allowed]
    if unknown:
        raise ValidationFailed(
            f"scopes: {', '.join(map(repr, unknown))} cannot be granted here; "
            f"choose from {', '.join(sorted(allowed))}",
            code="invalid_scope",
            details={"field": "scopes", "allowed": sorted(allowed)},
        )
    return tuple(dict.fromkeys(scopes))


async def create(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    name: str,
    scopes: Sequence[str],
    expires_in_days: int | None,
    actor: str,
    allow_operator: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> IssuedKey:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 200:
        raise ValidationFailed("name: give 1 to 200 characters", details={"field": "name"})
    granted = check_scopes(scopes, allow_operator=allow_operator)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValidationFailed(
            f"expires_in_days: from 1 to {MAX_EXPIRY_DAYS}, or null for a key that never expires",
            details={"field": "expires_in_days", "max": MAX_EXPIRY_DAYS},
        )
    issued = await issue_key(
        session,
        workspace_id,
        name=cleaned,
        scopes=granted,
        expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
        clock=clock,
    )
    row = await session.get(ApiKey, issued.key_id)
    assert row is not None
    after = describe(row, clock=clock)
    after.pop("last_used_at")
    await audit.record(
        session,
        actor=actor,
        action="api_key.create",
        target=f"api_key:{issued.key_id}",
        workspace_id=workspace_id,
        after=after,
    )
    return issued


async def list_keys(session: AsyncSession, workspace_id: uuid.UUID) -> list[ApiKey]:
    return list(
        await session.scalars(
            sa.select(ApiKey)
            .where(ApiKey.workspace_id == workspace_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


async def get(session: AsyncSession, workspace_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    row = await session.scalar(
        sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id)
    )
    if row is None:
        raise NotFound("no such API key")
    return row


async def revoke(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    actor: str,
    clock: Clock = SYSTEM_CLOCK,
) -> ApiKey:
    """Revoke a key of this workspace (idempotent); a key of another workspace is a 404."""
    row = await get(session, workspace_id, key_id)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="api_key.revoke",
            target=f"api_key:{key_id}",
            workspace_id=workspace_id,
            before={"name": row.name, "status": "active"},
            after={"name": row.name, "status": "revoked"},
        )
    return row
