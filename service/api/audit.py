"""The audit log of configuration changes, newest first (admins; operators for any workspace)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import FromQuery

from service.accounts import audit, roles, workspaces
from service.api.auth import principal_of
from service.errors import ValidationFailed

AnyRequest = Request[Any, Any, Any]


class AuditEntry(msgspec.Struct, frozen=True):
    id: uuid.UUID
    created_at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditLog(msgspec.Struct, frozen=True):
    entries: list[AuditEntry]
    # Pass as `before` to read further back; null at the oldest entry.
    next_before: datetime | None


@get("/audit", opt={"scope": "admin"}, tags=["audit"], summary="Configuration changes")
async def audit_log(
    request: AnyRequest,
    limit: FromQuery[int] = 100,
    before: FromQuery[datetime | None] = None,
    action: FromQuery[str | None] = None,
    workspace_id: FromQuery[str | None] = None,
) -> AuditLog:
    principal = principal_of(request)
    target = principal.workspace_id
    if workspace_id is not None:
        target = workspaces.parse_id(workspace_id)
        roles.require_workspace(principal, target)
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit: from 1 to 1000", details={"field": "limit", "max": 1000})
    async with request.app.state.sessions() as session:
        page = await audit.entries(session, target, limit=limit, before=before, action=action)
    return AuditLog(
        entries=[
            AuditEntry(
                id=e.id,
                created_at=e.created_at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                before=e.before,
                after=e.after,
                request_id=e.request_id,
            )
            for e in page.entries
        ],
        next_before=page.next_before,
    )
