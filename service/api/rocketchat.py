"""Rocket.Chat's outgoing webhook (public, authenticated by the webhook token) and the bot's
status for workspace admins (under /api/v1)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody

from service.accounts import workspaces
from service.accounts.roles import ChatUnavailable
from service.api.auth import principal_of
from service.chat.bot import UNAUTHORIZED_HINT, ChatBot
from service.chat.payload import OutgoingMessage
from service.container import Services
from service.rocketchat import RocketChatError, RocketChatUnauthorized, public_reason

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


@post(
    "/integrations/rocketchat/outgoing",
    status_code=200,
    summary="Rocket.Chat outgoing webhook (event: Message Sent)",
    tags=["rocketchat"],
)
async def outgoing(services: Services, data: JSONBody[OutgoingMessage]) -> Response[bytes]:
    """Answers at once with an empty 200 (Rocket.Chat posts nothing); the translation is posted
    by the bot user in the background. A token of no workspace is a 403 and changes nothing."""
    decision = await services.chat_bot.accept(data)
    log.debug("outgoing webhook %s: %s", data.message_id, decision)
    return Response(b"", status_code=200, media_type="text/plain")


class Problem(msgspec.Struct, frozen=True):
    code: str
    message: str
    at: datetime


class BotStatus(msgspec.Struct, frozen=True):
    status: Literal["ok", "unauthorized", "unavailable", "not_configured", "token_unreadable"]
    user_id: str | None = None
    username: str | None = None
    message: str | None = None


class RocketChatStatus(msgspec.Struct, frozen=True):
    rocketchat_url: str | None
    webhook_token_set: bool
    bot: BotStatus
    last_problem: Problem | None
    last_delivery_at: datetime | None


@get(
    "/integrations/rocketchat/status",
    opt={"scope": "admin"},
    summary="Whether the webhook bot can act in Rocket.Chat (checks the bot token now)",
    tags=["rocketchat"],
)
async def rocketchat_status(request: AnyRequest, services: Services) -> RocketChatStatus:
    workspace_id = principal_of(request).workspace_id
    bot = services.chat_bot
    async with services.sessions.begin() as session:
        row = await workspaces.settings_row(session, workspace_id)
        url, token_set = row.rocketchat_url, row.webhook_token_hash is not None
    problem = bot.health.last_problem(workspace_id)
    return RocketChatStatus(
        rocketchat_url=url,
        webhook_token_set=token_set,
        bot=await _check_bot(bot, workspace_id),
        last_problem=Problem(problem.code, problem.message, problem.at) if problem else None,
        last_delivery_at=bot.health.last_delivery(workspace_id),
    )


async def _check_bot(bot: ChatBot, workspace_id: Any) -> BotStatus:
    try:
        client = await bot.deps.identity.roles.bot(workspace_id)
    except ChatUnavailable as exc:
        return BotStatus(status="token_unreadable", message=exc.message)
    if client is None:
        return BotStatus(
            status="not_configured",
            message="set rocketchat_url, rocketchat_bot_user_id and rocketchat_bot_token "
            "with PUT /api/v1/workspaces/current/settings",
        )
    try:
        me = await client.me()
    except RocketChatUnauthorized:
        bot.health.problem(workspace_id, "rocketchat_bot_unauthorized", UNAUTHORIZED_HINT)
        return BotStatus(status="unauthorized", user_id=client.user_id, message=UNAUTHORIZED_HINT)
    except RocketChatError as exc:
        log.info("rocketchat status of %s: %s", workspace_id, exc)
        return BotStatus(status="unavailable", user_id=client.user_id, message=public_reason(exc))
    username = me.get("username")
    return BotStatus(
        status="ok",
        user_id=client.user_id,
        username=username if isinstance(username, str) else None,
    )
