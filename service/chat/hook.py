"""What the bot and its commands share: the webhook's workspace, the services the chat runs on,
and the bot's surface the commands use (so commands.py does not import bot.py, which runs them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.identity import Identity
from service.accounts.languages import LanguagePriors
from service.admission.translator import Translator
from service.chat.audience import Audience
from service.chat.delivery import Courier
from service.rocketchat import RocketChatClient, RocketChatError
from service.settings import Settings


@dataclass(frozen=True, slots=True)
class Hook:
    """The workspace a webhook call belongs to, as its token says."""

    workspace_id: uuid.UUID
    bot_user_id: str | None


@dataclass
class ChatDeps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    identity: Identity
    priors: LanguagePriors
    translator: Translator


class Bot(Protocol):
    """The parts of `ChatBot` (bot.py) that commands use."""

    deps: ChatDeps
    audience: Audience
    courier: Courier

    async def client(self, workspace_id: uuid.UUID) -> RocketChatClient | None: ...

    def rocketchat_failed(self, workspace_id: uuid.UUID, exc: RocketChatError) -> None: ...
