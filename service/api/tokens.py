"""User tokens: exchange a Rocket.Chat login for a JWT, and revoke one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from service.accounts import audit, roles
from service.accounts.identity import Identity
from service.api.auth import bearer_token_of, principal_of
from service.container import Services
from service.errors import Forbidden, NotFound, ServiceError, Unauthorized

AnyRequest = Request[Any, Any, Any]


# What Identity.exchange accepts once surrounding white space is dropped: 1 to 512 printable
# ASCII characters (a CR, LF or NUL would otherwise reach the header encoder).
RC_CREDENTIAL = r"^\s*[!-~]{1,512}\s*$"
Credential = Annotated[str, msgspec.Meta(pattern=RC_CREDENTIAL)]


class RocketChatLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The user's Rocket.Chat credentials (or send them as X-User-Id / X-Auth-Token headers);
    given in neither: 401 missing_rocketchat_credentials."""

    user_id: Credential | None = None
    auth_token: Credential | None = None


class UserToken(msgspec.Struct, frozen=True):
    token: str
    token_type: str
    expires_in: int
    expires_at: datetime
    user_id: str
    username: str | None
    role: str
    target_lang: str


class RevokeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`token` to revoke; absent: the token this request is authenticated with (with none,
    as with an API key: 401 missing_token)."""

    token: str | None = None


class Revoked(msgspec.Struct, frozen=True):
    revoked: bool
    jti: str


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/rocketchat", summary="Exchange a Rocket.Chat login for a user token")
    async def exchange(
        self, request: AnyRequest, services: Services, data: JSONBody[RocketChatLogin]
    ) -> UserToken:
        principal = principal_of(request)
        if principal.api_key_id is None:
            raise Forbidden(
                "the exchange is made by the workspace's integration, with its API key",
                code="api_key_required",
            )
        user_id = data.user_id or request.headers.get("x-user-id") or ""
        auth_token = data.auth_token or request.headers.get("x-auth-token") or ""
        limiter = services.usage.limiter
        await limiter.hit_exchange(
            principal.workspace_id, api_key_id=principal.api_key_id, user_id=user_id.strip()
        )
        try:
            if not user_id.strip() or not auth_token.strip():
                raise Unauthorized(
                    "give the Rocket.Chat user id and auth token, in the body or as the "
                    "X-User-Id and X-Auth-Token headers",
                    code="missing_rocketchat_credentials",
                )
            done = await services.identity.exchange(
                principal.workspace_id,
                user_id.strip(),
                auth_token.strip(),
                actor=audit.actor_of(principal),
            )
        except ServiceError:
            await limiter.exchange_failed(principal.workspace_id, user_id=user_id.strip())
            raise
        claims = done.token.claims
        return UserToken(
            token=done.token.token,
            token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
            expires_in=claims.expires_at - claims.issued_at,
            expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
            user_id=claims.sub,
            username=done.username,
            role=claims.role,
            target_lang=done.target_lang,
        )

    @post("/revoke", summary="Revoke a user token")
    async def revoke(
        self, request: AnyRequest, services: Services, data: JSONBody[RevokeRequest]
    ) -> Revoked:
        principal = principal_of(request)
        identity: Identity = services.identity
        token = data.token or bearer_token_of(request)
        if not token:
            # The credential to revoke is missing, as a missing credential is: 401.
            raise Unauthorized(
                "token: give the token to revoke, or authenticate with it",
                code="missing_token",
                details={"field": "token"},
            )
        claims = identity.codec.decode(token)
        if claims.workspace_id != principal.workspace_id and not roles.is_operator(principal):
            raise NotFound("no such token")
        if claims.sub != principal.user_id and not roles.is_admin(principal):
            raise Forbidden(
                "only the token's owner or an admin may revoke it", code="insufficient_role"
            )
        async with services.sessions.begin() as session:
            added = await identity.tokens.revoke(session, claims)
        return Revoked(revoked=added, jti=claims.jti)
