"""Who a request is from: API keys, end-user JWTs, and the Rocket.Chat token exchange.

The exchange: a Rocket.Chat app or integration, holding an API key of its workspace, forwards a
user's Rocket.Chat `X-User-Id` + `X-Auth-Token`. The service asks that workspace's Rocket.Chat
`GET /api/v1/me` with them; only when Rocket.Chat confirms the id does it issue a short-lived JWT
for that user. The workspace comes from the API key, never from the request body, and the user id
from Rocket.Chat's answer, never from the caller.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import audit, preferences
from service.accounts.crypto import Keyring
from service.accounts.keys import Principal
from service.accounts.roles import ChatNotConfigured, ChatUnavailable, RoleResolver
from service.accounts.tokens import Claims, IssuedToken, TokenCodec, TokenVerifier
from service.db.models import WorkspaceSettings
from service.errors import Unauthorized, ValidationFailed
from service.outbound import OutboundClient
from service.rocketchat import (
    Credentials,
    RocketChatError,
    RocketChatUnauthorized,
    public_reason,
)
from service.settings import Settings

log = logging.getLogger(__name__)

USER_SCOPES = frozenset({"translate"})
ADMIN_SCOPES = frozenset({"translate", "admin", "read:usage"})


def principal_from_claims(claims: Claims) -> Principal:
    return Principal(
        workspace_id=claims.workspace_id,
        api_key_id=None,
        scopes=ADMIN_SCOPES if claims.role == "admin" else USER_SCOPES,
        user_id=claims.sub,
        role=claims.role,
        token_id=claims.jti,
    )


@dataclass(frozen=True, slots=True)
class Exchanged:
    token: IssuedToken
    username: str | None
    target_lang: str


class Identity:
    """The app's identity services (one per app, built in the lifespan)."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        http: OutboundClient,
        *,
        keyring: Keyring,
    ) -> None:
        security = settings.security
        self.settings = settings
        self.sessions = sessions
        self._keyring = keyring
        self.codec = TokenCodec(security)
        self.tokens = TokenVerifier(
            self.codec, sessions, cache_seconds=security.jwt_revocation_cache_seconds
        )
        self.roles = RoleResolver(
            sessions,
            self.keyring,
            http,
            cache_seconds=security.chat_roles_cache_seconds,
            timeout=security.chat_api_timeout_seconds,
            max_retries=security.chat_api_max_retries,
        )

    def keyring(self) -> Keyring:
        """The app's keyring (loaded once in the lifespan, before the identity is built)."""
        return self._keyring

    async def authenticate_token(self, token: str) -> Principal:
        return principal_from_claims(await self.tokens.verify(token))

    async def exchange(
        self, workspace_id: uuid.UUID, rc_user_id: str, rc_token: str, *, actor: str = "exchange"
    ) -> Exchanged:
        for field, value in (("user_id", rc_user_id), ("auth_token", rc_token)):
            # Printable ASCII only: a CR, LF or NUL would otherwise reach the header encoder.
            if not value or len(value) > 512 or not all(" " < c <= "~" for c in value):
                raise ValidationFailed(
                    f"{field}: give the Rocket.Chat {field.replace('_', ' ')}",
                    details={"field": field},
                )
        async with self.sessions() as session:
            row = await session.get(WorkspaceSettings, workspace_id)
            base_url = row.rocketchat_url if row is not None else None
        if not base_url:
            raise ChatNotConfigured(
                "this workspace has no Rocket.Chat URL: an admin sets it with "
                "PUT /api/v1/workspaces/current/settings"
            )
        client = self.roles.client(base_url, Credentials(rc_user_id, rc_token))
        try:
            me = await client.me()
        except RocketChatUnauthorized:
            raise Unauthorized(
                "Rocket.Chat did not accept this user id and auth token",
                code="invalid_rocketchat_credentials",
            ) from None
        except RocketChatError as exc:
            # Rocket.Chat's own words stay in the log: echoed, they would let the caller read
            # whatever answers at the workspace's URL, and tell open ports from closed ones.
            log.warning("token exchange: Rocket.Chat did not confirm the user: %s", exc)
            raise ChatUnavailable(f"cannot verify the user: {public_reason(exc)}") from None
        if me.get("_id") != rc_user_id:
            raise Unauthorized(
                "Rocket.Chat's answer is for another user", code="invalid_rocketchat_credentials"
            )
        username = me.get("username") if isinstance(me.get("username"), str) else None
        role = "admin" if "admin" in (me.get("roles") or []) else "user"
        language = _profile_language(me) or await self._bot_view_of_language(
            workspace_id, rc_user_id
        )
        async with self.sessions.begin() as session:
            user = await preferences.upsert_user(
                session,
                workspace_id,
                rc_user_id,
                username=username,
                rocketchat_language=language,
            )
            prefs = await preferences.read(session, workspace_id, rc_user_id)
            issued = self.codec.issue(
                sub=rc_user_id, workspace_id=workspace_id, user_pk=user.id, role=role
            )
            if role == "admin":
                # Admin actions of this token are audited as `user:<id>`; this entry says which
                # Rocket.Chat confirmed that identity, and for whom (the integration's key).
                await audit.record(
                    session,
                    actor=actor,
                    action="auth.admin_token.issue",
                    target=f"user:{rc_user_id}",
                    workspace_id=workspace_id,
                    after={
                        "confirmed_by": base_url,
                        "username": username,
                        "token_id": issued.claims.jti,
                        "expires_at": issued.claims.expires_at,
                    },
                )
        return Exchanged(token=issued, username=username, target_lang=prefs.target_lang)

    async def _bot_view_of_language(self, workspace_id: uuid.UUID, user_id: str) -> str | None:
        """`users.info` through the bot, when `me` did not say (best effort)."""
        try:
            bot = await self.roles.bot(workspace_id)
            if bot is None:
                return None
            return _profile_language(await bot.user_info(user_id))
        except (RocketChatError, ValueError):
            return None


def _profile_language(user: dict[str, Any]) -> str | None:
    language = user.get("language")
    if not language:
        settings = user.get("settings")
        prefs = settings.get("preferences") if isinstance(settings, dict) else None
        language = prefs.get("language") if isinstance(prefs, dict) else None
    return language if isinstance(language, str) and language else None
