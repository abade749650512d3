"""Authentication for /api/v1: a workspace API key or an end user's JWT, as one `Principal`.

API keys: `X-API-Key: <key>` or `Authorization: Bearer <key>`. JWTs (from
`POST /api/v1/auth/rocketchat`): `Authorization: Bearer <jwt>`. A bearer value with two dots is
a JWT (API keys never contain one); anything else is checked as an API key. A request with
neither may carry the web console's session cookie (service/console/sessions.py), which stands
for the key or admin that signed in, with a CSRF token required on changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from service.accounts.keys import KeyVerifier, Principal
from service.accounts.tokens import looks_like_jwt
from service.console.sessions import cookie_principal
from service.container import services_of
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


def _missing() -> Unauthorized:
    return Unauthorized(
        "an API key is required: send `X-API-Key: <key>` or `Authorization: Bearer <key>`",
        code="missing_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], verifier: KeyVerifier, key: str | None
) -> Principal:
    """Check an API key (not a JWT): used by routes whose clients only have keys."""
    if not key:
        raise _missing()
    principal = await verifier.verify(key)
    if principal.api_key_id is not None and verifier.needs_touch(principal.api_key_id):
        task = asyncio.create_task(verifier.touch(principal.api_key_id))
        _background.add(task)
        task.add_done_callback(_background.discard)
    _scope_state(connection)["principal"] = principal
    workspace_id_var.set(str(principal.workspace_id))
    return principal


async def authenticate_any(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """An API key or a user JWT, whichever the request carries."""
    credential = presented_key(connection)
    if not credential:
        # The web console's session cookie (service/console/sessions.py) is the one other way.
        signed = await cookie_principal(connection)
        if signed is None:
            raise _missing()
        _scope_state(connection)["principal"] = signed
        workspace_id_var.set(str(signed.workspace_id))
        return signed
    # A middleware, so no dependency injection: the app's services from their one place.
    services = services_of(connection.app)
    if connection.headers.get("x-api-key") or not looks_like_jwt(credential):
        return await authenticate(connection, services.key_verifier, credential)
    principal = await services.identity.authenticate_token(credential)
    state = _scope_state(connection)
    state["principal"] = principal
    state["bearer_token"] = credential
    workspace_id_var.set(str(principal.workspace_id))
    return principal


def api_key_middleware(app: ASGIApp) -> ASGIApp:
    """Authenticates every request to the routes it wraps (the /api/v1 router): an API key or a
    user JWT with the scope the route names in `opt={"scope": ...}` ("translate" by default).

    A middleware rather than a guard: Litestar copies the route handler for every guard call,
    which was ~4 % of a cached translation's CPU (bench/README.md, fourth round). Middleware of
    the router also stacks with any a route adds, where a `before_request` hook would be
    replaced by a route's own and silently drop the check.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler: BaseRouteHandler = scope["route_handler"]
        await authorize(ASGIConnection(scope), handler.opt.get("scope", "translate"))
        await app(scope, receive, send)

    return middleware


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], needed: str) -> None:
    """Authenticate the request and check that its principal holds the scope `needed`."""
    principal = await authenticate_any(connection)
    if not principal.has_scope(needed):
        holder = "API key" if principal.user_id is None else "user token"
        raise Forbidden(f"this {holder} lacks the {needed!r} scope", code="insufficient_scope")


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = _scope_state(connection)["principal"]
    return principal


def bearer_token_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    token: str | None = _scope_state(connection).get("bearer_token")
    return token


def _scope_state(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    # The scope's dict itself: `connection.state` builds a new State (and a lock) on every
    # access, a few per request on the hot path.
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    return state
