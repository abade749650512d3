"""The audit log of configuration changes, newest first (admins; operators for any workspace)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.openapi.spec.enums import OpenAPIFormat
from litestar.params import FromQuery, QueryParameter

from service.accounts import audit, roles, workspaces
from service.api.auth import principal_of
from service.container import Services
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
    services: Services,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    # An RFC 3339 date-time, as `next_before` gives it (not a number of seconds).
    before: Annotated[
        str | None, QueryParameter(schema_extra={"format": OpenAPIFormat.DATE_TIME})
    ] = None,
    action: FromQuery[str | None] = None,
    workspace_id: FromQuery[str | None] = None,
) -> AuditLog:
    principal = principal_of(request)
    target = principal.workspace_id
    if workspace_id is not None:
        target = workspaces.parse_id(workspace_id)
        roles.require_workspace(principal, target)
    async with services.sessions() as session:
        page = await audit.entries(
            session, target, limit=limit, before=_moment(before), action=action
        )
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


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed(
            "before: give a date-time with its offset, e.g. 2026-12-01T00:00:00Z",
            details={"field": "before"},
        )
    return moment
