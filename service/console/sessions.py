"""Console sign-in sessions: a random cookie whose digest names a row in `console_sessions`.

The API accepts the cookie as an identity alongside bearer keys (`cookie_principal`, called by
service/api/auth.py when a request carries no key). A request authenticated by the cookie
that changes something must also send the session's CSRF token in `X-CSRF-Token`: a page of
the console has it (in a <meta> tag), another site's form or script does not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from litestar.connection import ASGIConnection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import audit
from service.accounts.keys import Principal
from service.container import services_of
from service.db.models import ApiKey, ConsoleSession
from service.errors import Forbidden, Unauthorized

COOKIE = "utp_console"
CSRF_HEADER = "x-csrf-token"
# How long a sign-in lasts, whatever is done with it: an admin signs in again each working day.
LIFETIME = timedelta(hours=8)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Signed:
    """What a valid session cookie stands for."""

    principal: Principal
    csrf_token: str
    expires_at: datetime


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


async def open_session(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    now: datetime,
    not_after: datetime | None = None,
) -> tuple[str, Signed]:
    """Store a new session for `principal`; returns the cookie value (shown to no one else)."""
    cookie = secrets.token_urlsafe(32)
    expires_at = now + LIFETIME
    if not_after is not None and not_after < expires_at:
        expires_at = not_after
    csrf = secrets.token_urlsafe(32)
    async with sessions.begin() as session:
        # Expired rows go whenever someone signs in: no job needed, the table stays small.
        await session.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        session.add(
            ConsoleSession(
                id_hash=_digest(cookie),
                workspace_id=principal.workspace_id,
                api_key_id=principal.api_key_id,
                user_id=principal.user_id,
                token_id=principal.token_id,
                role=principal.role,
                scopes=" ".join(sorted(principal.scopes)),
                csrf_token=csrf,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await audit.record(
            session,
            actor=audit.actor_of(principal),
            action="console.sign_in",
            target="console",
            workspace_id=principal.workspace_id,
            after={"expires_at": expires_at.isoformat()},
        )
    return cookie, Signed(principal, csrf, expires_at)


async def find_session(
    sessions: async_sessionmaker[AsyncSession], cookie: str, *, now: datetime
) -> Signed | None:
    """The live session of this cookie, or None (unknown, signed out, expired, key revoked)."""
    if not cookie or len(cookie) > 128:
        return None
    query = (
        sa.select(ConsoleSession, ApiKey)
        .outerjoin(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
        .where(ConsoleSession.id_hash == _digest(cookie), ConsoleSession.expires_at > now)
    )
    async with sessions() as session:
        found = (await session.execute(query)).first()
    if found is None:
        return None
    row, key = found
    if row.api_key_id is not None and (
        key is None
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        return None
    principal = Principal(
        workspace_id=row.workspace_id,
        api_key_id=row.api_key_id,
        scopes=frozenset(row.scopes.split()),
        user_id=row.user_id,
        role=row.role,
        token_id=row.token_id,
    )
    return Signed(principal, row.csrf_token, row.expires_at)


async def close_session(sessions: async_sessionmaker[AsyncSession], cookie: str) -> None:
    """Delete the session (sign-out). Nothing else is revoked, here or when a session expires.

    Decided for a Rocket.Chat sign-in, which involves two tokens:
    - The service's user token from the exchange was never handed to anyone: the session row
      stands for it (`token_id`), so deleting the row ends it.
    - The admin's Rocket.Chat token is not the service's to revoke. The console never logs in to
      Rocket.Chat (no `POST /api/v1/login`, so it mints no Rocket.Chat token): the admin types
      their user id and a personal access token they made, and sign-in reads it with
      `GET /api/v1/me` (routes.py::_rocketchat_principal), storing and logging none of it.
      Logging it out would be harm, not hygiene: Rocket.Chat's `POST /api/v1/logout` removes
      the very token it is called with from the user's login tokens, so it would delete the
      admin's personal access token (or, for a pasted browser login token, sign them out of
      Rocket.Chat). Keeping it to log out at sign-out would put an admin credential at rest that
      the session never uses. Its lifetime is the admin's, set in Rocket.Chat (My Account ->
      Personal Access Tokens) like any token they make.
    """
    async with sessions.begin() as session:
        await session.execute(
            sa.delete(ConsoleSession).where(ConsoleSession.id_hash == _digest(cookie))
        )


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def cookie_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The identity of a console session cookie, for the API's authentication.

    None when the request has no console cookie. A cookie that names no live session is a 401;
    a state-changing request without the session's CSRF token is a 403.
    """
    cookie = connection.cookies.get(COOKIE)
    if not cookie:
        return None
    # Called by the API's authentication middleware, so no dependency injection: the app's
    # services from their one place.
    services = services_of(connection.app)
    signed = await find_session(services.sessions, cookie, now=services.clock.now())
    if signed is None:
        raise Unauthorized(
            "the console session has ended: sign in again at /console",
            code="session_expired",
        )
    if connection.scope.get("method", "GET") not in SAFE_METHODS and not same_token(
        connection.headers.get(CSRF_HEADER), signed.csrf_token
    ):
        raise Forbidden(
            "a change made with the console's session needs its CSRF token in X-CSRF-Token",
            code="csrf_token_invalid",
        )
    return signed.principal
