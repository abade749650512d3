"""API key authentication for /api/v1: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.accounts.keys import KeyVerifier, Principal
from service.errors import Forbidden, Unauthorized
from service.observability.logging import workspace_id_var

_background: set[asyncio.Task[None]] = set()


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    key = connection.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], key: str | None
) -> Principal:
    if not key:
        raise Unauthorized(
            "an API key is required: send `X-API-Key: <key>` or `Authorization: Bearer <key>`",
            code="missing_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: KeyVerifier = connection.app.state.key_verifier
    principal = await verifier.verify(key)
    if verifier.needs_touch(principal.api_key_id):
        task = asyncio.create_task(verifier.touch(principal.api_key_id))
        _background.add(task)
        task.add_done_callback(_background.discard)
    connection.state.principal = principal
    workspace_id_var.set(str(principal.workspace_id))
    return principal


async def require_api_key(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard for every /api/v1 route; a route's `opt={"scope": ...}` names the scope it needs."""
    principal = await authenticate(connection, presented_key(connection))
    needed = handler.opt.get("scope", "translate")
    if needed not in principal.scopes:
        raise Forbidden(f"this API key lacks the {needed!r} scope", code="insufficient_scope")


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = connection.state.principal
    return principal
