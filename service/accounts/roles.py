"""Roles as plain guard functions: user, channel_admin, admin, operator.

- `user`: a person, known through a JWT; may read and change their own preferences, translate.
- `channel_admin`: per channel. The room's owner or moderator in Rocket.Chat, or a Rocket.Chat
  global admin, checked with the workspace's bot credentials and remembered briefly. Room roles
  come from `channels.roles` / `groups.roles` (by the room type `rooms.info` reports):
  `subscriptions.getOne` only describes the *calling* identity's subscription, which with bot
  credentials is the bot's, so it cannot tell us about another user.
- `admin`: workspace settings, keys, providers, budgets, analytics: API keys with the `admin`
  scope, or Rocket.Chat global admins (their JWT carries the role).
- `operator`: every workspace: keys with the `operator` scope, minted only by the CLI.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import workspaces
from service.accounts.crypto import CryptoError, Keyring
from service.accounts.keys import Principal
from service.errors import Forbidden, NotFound, ServiceError
from service.outbound import OutboundClient
from service.rocketchat import (
    Credentials,
    RocketChatClient,
    RocketChatError,
    RocketChatNotFound,
    RocketChatUnauthorized,
    public_reason,
)

log = logging.getLogger(__name__)

ROOM_ADMIN_ROLES = frozenset({"owner", "moderator"})


class ChatUnavailable(ServiceError):
    """Rocket.Chat could not answer a question we must ask it (roles, identity)."""

    status_code = 503
    code = "rocketchat_unavailable"


class ChatNotConfigured(ServiceError):
    status_code = 409
    code = "rocketchat_not_configured"


def require_user(principal: Principal) -> str:
    """The caller's Rocket.Chat user id; API keys act for no person and are refused."""
    if principal.user_id is None:
        raise Forbidden(
            "this route acts for a person: use a user token from POST /api/v1/auth/rocketchat",
            code="user_token_required",
        )
    return principal.user_id


def is_admin(principal: Principal) -> bool:
    return principal.has_scope("admin")


def require_admin(principal: Principal) -> None:
    if not is_admin(principal):
        raise Forbidden("this needs a workspace admin", code="insufficient_role")


def is_operator(principal: Principal) -> bool:
    return "operator" in principal.scopes


def require_operator(principal: Principal) -> None:
    if not is_operator(principal):
        raise Forbidden("this needs a platform operator key", code="insufficient_role")


def require_workspace(principal: Principal, workspace_id: uuid.UUID) -> None:
    """Only the caller's own workspace exists for it (operators see all): others are a 404."""
    if workspace_id != principal.workspace_id and not is_operator(principal):
        raise NotFound("no such workspace")


class RoleResolver:
    """Answers "may this user administer this channel?" from Rocket.Chat, with a short cache."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Callable[[], Keyring],
        http: OutboundClient,
        *,
        cache_seconds: float = 60.0,
        timeout: float = 5.0,
        max_retries: int = 2,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._http = http
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._max_retries = max_retries
        self._cache: dict[tuple[uuid.UUID, str, str], tuple[bool, float]] = {}

    def client(self, base_url: str, credentials: Credentials) -> RocketChatClient:
        return RocketChatClient(
            base_url,
            credentials,
            self._http,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )

    async def bot(self, workspace_id: uuid.UUID) -> RocketChatClient | None:
        try:
            async with self._sessions() as session:
                creds = await workspaces.bot_credentials(session, workspace_id, self._keyring())
        except CryptoError:
            raise ChatUnavailable(
                "the workspace's Rocket.Chat bot token cannot be decrypted with the configured "
                "keys: an admin must set it again",
                code="rocketchat_bot_token_unreadable",
            ) from None
        if creds is None:
            return None
        return self.client(creds.base_url, Credentials(creds.user_id, creds.token))

    async def require_channel_admin(self, principal: Principal, channel_id: str) -> None:
        if is_admin(principal):
            return
        user_id = require_user(principal)
        key = (principal.workspace_id, user_id, channel_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            allowed = cached[0]
        else:
            allowed = await self._ask(principal.workspace_id, user_id, channel_id)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (allowed, now + self._cache_seconds)
        if not allowed:
            raise Forbidden(
                "only the channel's owners and moderators, or admins, may change its settings",
                code="insufficient_role",
            )

    async def _ask(self, workspace_id: uuid.UUID, user_id: str, channel_id: str) -> bool:
        bot = await self.bot(workspace_id)
        if bot is None:
            raise ChatNotConfigured(
                "channel roles cannot be checked: set the workspace's Rocket.Chat URL, bot user "
                "id and bot token first (PUT /api/v1/workspaces/current/settings)"
            )
        try:
            user = await bot.user_info(user_id)
            if "admin" in (user.get("roles") or []):
                return True
            room = await bot.room_info(channel_id)
            roles = await bot.room_roles(channel_id, str(room.get("t", "")))
        except RocketChatNotFound:
            raise NotFound("no such channel") from None
        except RocketChatUnauthorized:
            raise ChatUnavailable(
                "Rocket.Chat rejected the workspace's bot token (401): an admin must set a "
                "valid one",
                code="rocketchat_bot_unauthorized",
            ) from None
        except RocketChatError as exc:
            log.warning("channel roles of %s: %s", channel_id, exc)
            raise ChatUnavailable(f"cannot check channel roles: {public_reason(exc)}") from None
        for entry in roles:
            member = entry.get("u")
            if isinstance(member, dict) and member.get("_id") == user_id:
                return bool(ROOM_ADMIN_ROLES & set(entry.get("roles") or []))
        return False
