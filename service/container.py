"""The app's services: one `ServiceContainer`, built once in the lifespan (service/app.py) and
handed to handlers by Litestar's dependency injection.

A handler declares the parameter `services: Services`; Litestar fills it from the app's
`dependencies` (service/app.py) and leaves it out of the OpenAPI document. Nothing in a handler
module reads `app.state` (tests/service/test_container.py fails if one does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from litestar import Litestar
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.crypto import Keyring
from service.accounts.identity import Identity
from service.accounts.keys import KeyVerifier
from service.accounts.languages import LanguagePriors
from service.accounts.providers import WorkspaceProviders
from service.admission.translator import Translator
from service.chat.bot import ChatBot
from service.clock import Clock
from service.db.role import DatabaseRole
from service.glossary.loader import GlossaryLoader
from service.netpolicy import OutboundPolicy
from service.settings import Settings
from service.translation.cache import TranslationCache
from service.translation.engine import Engine
from service.usage.services import UsageServices


@dataclass(frozen=True, slots=True)
class ServiceContainer:
    """Everything a request handler may use; one per app, living as long as its lifespan."""

    settings: Settings
    # The wall clock calendar logic reads (tests inject theirs through `Overrides`).
    clock: Clock
    # What a workspace-configured URL may point at (its providers' base_url, its Rocket.Chat).
    outbound_policy: OutboundPolicy
    # Whether this region's database is the primary or a read-only replica (DR).
    database_role: DatabaseRole
    sessions: async_sessionmaker[AsyncSession]
    cache: TranslationCache
    usage: UsageServices
    keyring: Keyring
    key_verifier: KeyVerifier
    identity: Identity
    workspace_providers: WorkspaceProviders
    glossaries: GlossaryLoader
    language_priors: LanguagePriors
    engine: Engine
    # Every way a translation enters is admitted here (service/admission/translator.py).
    translator: Translator
    chat_bot: ChatBot


# A handler's parameter: the container, injected by name ("services"). Not validated: Litestar
# would otherwise have msgspec walk the type of every service on every request.
Services: TypeAlias = NamedDependency[SkipValidation[ServiceContainer]]


def services_of(app: Litestar) -> ServiceContainer:
    """The app's services, for what Litestar calls without dependency injection: middleware,
    `before_request` hooks and exception handlers get the connection (or the scope) only, so
    they read the container from the one place the lifespan puts it. Handlers never call this:
    they declare a `services: Services` parameter."""
    services: ServiceContainer = app.state.services
    return services
