"""The one admission path of every translation, whichever way it enters.

The v1 API (single and batch), the LibreTranslate API, the Rocket.Chat bot and the `!translate`
chat command all call `Translator.admit()` with who is asking (`Caller`) and how many
translations the request counts as; the entry points keep only their wire formats. In this
order, and nowhere else:

1. rate limits: `cost` translations against the key's, user's and channel's windows (429);
2. the soft budget limit: past it, the economy tier unless the caller named a provider;
3. the channel's settings, when the request names a channel: its allowed and blocked
   languages (403), its formality as the default, its cost cap per message around the budget;
4. the budget guard around every paid provider call (402 when exhausted);

and then the workspace's own providers, its glossary and its detection priors.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import channels
from service.accounts.channels import ChannelView
from service.accounts.languages import LanguagePriors
from service.accounts.providers import Routing, WorkspaceProviders
from service.errors import Conflict, Forbidden
from service.glossary.loader import GlossaryLoader
from service.settings import Settings
from service.translation.engine import Caller, DetectionLike, Engine, Options, Outcome, SpendGuard
from service.translation.glossary import GlossarySnapshot
from service.translation.providers.base import ContextMessage
from service.usage.caps import MessageCostCap
from service.usage.services import UsageServices


@dataclass(frozen=True, slots=True)
class Admission:
    """A request let in: who it is for the ledger, the channel's settings, its spend guard,
    and the workspace's routing and glossary."""

    translator: Translator
    caller: Caller
    economy: bool
    channel: ChannelView | None
    spend: SpendGuard
    routing: Routing
    glossary: GlossarySnapshot | None

    async def options(
        self,
        *,
        target: str,
        source: str | None,
        tier: str | None = None,
        formality: str | None = None,
        provider: str | None = None,
        context: Sequence[ContextMessage] = (),
        shared_detection: bool = False,
    ) -> Options:
        """What one target language is translated with; 403 if the channel does not allow it,
        409 if `provider` is one the server knows but the workspace has not enabled (a name it
        does not know is the engine's 422 unknown_provider)."""
        self.check(target)
        if provider is not None:
            enabled = (self.routing.router or self.translator.engine.router).by_name
            if provider not in enabled and provider in self.translator.providers.known:
                raise Conflict(
                    f"provider {provider!r} is not enabled for this workspace",
                    code="provider_not_enabled",
                    details={"enabled": sorted(enabled)},
                )
        channel = self.channel
        strategy = (
            tier
            or self.routing.default_tier
            or self.translator.settings.providers.default_quality_tier
        )
        if self.economy and provider is None:
            strategy = "economy"
        if formality is None and channel is not None:
            formality = channel.formality
        options = Options(
            target=target,
            source=source,
            strategy=strategy,
            formality=None if formality in (None, "default") else formality,
            context=tuple(context),
            provider=provider,
            shared_detection=shared_detection,
            glossary=self.glossary,
        )
        if source is None:
            # Narrow detection to the workspace's languages and, for short texts, the author's.
            priors = self.translator.priors
            options = dataclasses.replace(
                options,
                candidates=await priors.candidates(self.caller.workspace_id),
                author_language=await priors.author_language(
                    self.caller.workspace_id, self.caller.user_id
                ),
            )
        return options

    def check(self, target: str) -> None:
        """Refuse (403) a target language the request's channel does not allow."""
        channel = self.channel
        if channel is not None and not allows(channel, target):
            raise Forbidden(
                f"channel {channel.channel_id} does not allow translation into {target}",
                code="language_not_allowed",
                details={"channel_id": channel.channel_id, "target_lang": target},
            )

    async def translate(self, texts: Sequence[str], options: Options) -> list[Outcome]:
        return await self.translator.engine.translate(
            texts, options, self.caller, router=self.routing.router, spend=self.spend
        )


class Translator:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        engine: Engine,
        providers: WorkspaceProviders,
        glossaries: GlossaryLoader,
        priors: LanguagePriors,
        usage: UsageServices,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.engine = engine
        self.providers = providers
        self.glossaries = glossaries
        self.priors = priors
        self.usage = usage

    async def limit(self, caller: Caller, cost: int = 1) -> None:
        """Count `cost` requests against the caller's rate limits, or raise `RateLimited`
        (alone: for detection, which spends no budget)."""
        await self.usage.limiter.hit(
            caller.workspace_id,
            api_key_id=caller.api_key_id,
            user_id=caller.user_id,
            channel_id=caller.channel_id,
            cost=cost,
        )

    async def admit(self, caller: Caller, *, cost: int = 1) -> Admission:
        """Let a request of `cost` translations in (see the module's docstring for the order)."""
        await self.limit(caller, cost)
        budgets = self.usage.budgets
        economy = await budgets.downgrade(caller)
        channel: ChannelView | None = None
        if caller.channel_id is not None:
            async with self.sessions() as session:
                channel = await channels.read(session, caller.workspace_id, caller.channel_id)
        spend: SpendGuard = budgets.guard(caller)
        if channel is not None and channel.max_cost_per_message is not None:
            # One cap for the whole request (one message), across every language it goes into.
            spend = MessageCostCap(channel.max_cost_per_message, spend)
        routing = await self.providers.resolve(caller.workspace_id)
        glossary = await self.glossaries.snapshot(caller.workspace_id, caller.channel_id)
        return Admission(self, caller, economy, channel, spend, routing, glossary)

    async def routing(self, workspace_id: uuid.UUID) -> Routing:
        return await self.providers.resolve(workspace_id)

    async def detect(self, caller: Caller, text: str) -> DetectionLike:
        """The language of `text`, with the workspace's and the author's priors."""
        return await self.engine.detect(
            text,
            candidates=await self.priors.candidates(caller.workspace_id),
            author_language=await self.priors.author_language(caller.workspace_id, caller.user_id),
        )


def allows(channel: ChannelView, code: str) -> bool:
    """Whether the channel's allowed and blocked lists let `code` through: `pt-BR` is covered
    by a listed `pt-BR` or by a listed `pt`."""
    if channel.allowed_langs is not None and not _listed(code, set(channel.allowed_langs)):
        return False
    return not _listed(code, set(channel.blocked_langs or []))


def _listed(code: str, listed: set[str]) -> bool:
    return code in listed or code.split("-")[0] in listed
