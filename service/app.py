"""Builds the Litestar app from `Settings`; clients are opened in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError

from service import __version__
from service.accounts.identity import Identity
from service.accounts.keys import KeyVerifier
from service.accounts.languages import LanguagePriors
from service.accounts.providers import open_workspace_providers
from service.admission.translator import Translator
from service.api.accounts import ACCOUNT_ROUTES
from service.api.allow import allow_every_method
from service.api.auth import api_key_middleware
from service.api.errors import HANDLERS
from service.api.glossaries import GlossariesController
from service.api.guard import guard
from service.api.health import live, prometheus, ready, running
from service.api.libretranslate import router as libretranslate
from service.api.middleware import request_context
from service.api.openapi import document_errors, document_providers
from service.api.privacy import PrivacyController
from service.api.providers import ProvidersController
from service.api.region import refuse_writes_on_replica
from service.api.rocketchat import outgoing, rocketchat_status
from service.api.translate import TranslateController
from service.api.usage import USAGE_ROUTES
from service.chat.bot import ChatBot
from service.chat.hook import ChatDeps
from service.clock import SYSTEM_CLOCK, Clock
from service.console.routes import router as console
from service.container import ServiceContainer, services_of
from service.db.role import DatabaseRole
from service.db.session import create_engine, session_factory
from service.glossary.loader import GlossaryLoader
from service.netpolicy import OutboundPolicy
from service.observability import metrics
from service.outbound import OutboundClient
from service.settings import Settings
from service.translation.cache import MemoryLRU, TranslationCache
from service.translation.engine import Detector, Engine
from service.translation.providers.base import Provider
from service.translation.router import Router as ProviderRouter
from service.usage.services import build_usage

log = logging.getLogger(__name__)


@dataclass
class Overrides:
    """Replacements for what the lifespan would build; tests use these, never monkeypatching."""

    providers: Sequence[Provider] | None = None
    detector: Detector | None = None
    # The wall clock calendar logic reads (budget months, usage days, retention).
    clock: Clock = SYSTEM_CLOCK


def create_app(settings: Settings, overrides: Overrides | None = None) -> Litestar:
    overrides = overrides or Overrides()
    policy = OutboundPolicy.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            db = create_engine(
                settings.database_url,
                pool_size=settings.database.database_pool_size,
                echo=settings.database.database_echo,
                credentials_file=settings.database_credentials_file,
            )
            stack.push_async_callback(db.dispose)
            metrics.instrument_engine(db)
            role = DatabaseRole(db)
            # Unreachable: the outage path applies and the poller asks again.
            with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
                async with asyncio.timeout(2):
                    await role.check()
            role.start()
            stack.push_async_callback(role.stop)
            metrics.BUILD_INFO.clear()  # one series: this process's
            metrics.BUILD_INFO.labels(**running(settings)).set(1)
            sessions = session_factory(db)

            redis: Redis | None = None
            if settings.cache.redis_url:
                redis = Redis.from_url(
                    settings.cache.redis_url.get(),
                    socket_timeout=settings.cache.redis_timeout_seconds,
                    socket_connect_timeout=settings.cache.redis_timeout_seconds,
                    health_check_interval=30,
                )
                stack.push_async_callback(redis.aclose)

            client = OutboundClient(settings.providers.provider_timeout_seconds)
            stack.push_async_callback(client.aclose)
            # URLs a workspace configures (its providers' base_url, its Rocket.Chat) go through
            # a client that checks every address when connecting (service/netpolicy.py).
            tenant_client = OutboundClient(
                settings.providers.provider_timeout_seconds, policy=policy
            )
            stack.push_async_callback(tenant_client.aclose)

            if overrides.providers is not None:
                providers = list(overrides.providers)
            else:
                from service.translation.providers.registry import build_providers

                providers = build_providers(settings.providers, client)
            for provider in providers:
                await provider.start()
                stack.push_async_callback(provider.aclose)
            if not providers:
                log.error("no translation provider is enabled: install Apertium or configure a key")

            detector: Detector
            if overrides.detector is not None:
                detector = overrides.detector
            else:
                from service.translation.detection import LanguageDetector

                real = LanguageDetector.from_settings(settings.detection)
                # Load the models now, off the event loop, so no request pays for it.
                await real.aload()
                detector = real

            usage_services = build_usage(
                settings, sessions, redis, overrides.clock, read_only=lambda: role.read_only
            )
            usage_services.start()
            stack.push_async_callback(usage_services.stop)
            usage = usage_services.recorder

            cache = TranslationCache(
                memory=MemoryLRU(
                    settings.cache.memory_cache_entries, settings.cache.cache_ttl_seconds
                ),
                redis=redis,
                sessions=sessions,
                ttl_seconds=settings.cache.cache_ttl_seconds,
                redis_retry_seconds=settings.cache.redis_retry_seconds,
            )
            stack.push_async_callback(cache.drain)
            router = ProviderRouter(
                providers,
                order=settings.providers.provider_order,
                timeout=settings.providers.provider_timeout_seconds,
                max_retries=settings.providers.provider_max_retries,
                breaker_threshold=settings.providers.breaker_failure_threshold,
                breaker_cooldown=settings.providers.breaker_cooldown_seconds,
            )
            keyring, workspace_providers = await open_workspace_providers(
                settings, sessions, tenant_client, router
            )
            glossaries = GlossaryLoader(sessions)
            if settings.schema_served:
                # Known only now that the server's providers are built.
                document_providers(
                    app,
                    workspace_providers.known,
                    {code for provider in router.providers for code in provider.languages()},
                )
            identity = Identity(settings, sessions, tenant_client, keyring=keyring)
            language_priors = LanguagePriors(sessions, wall_clock=overrides.clock)
            engine = Engine(
                router=router,
                cache=cache,
                detector=detector,
                usage=usage,
                request_timeout=settings.limits.request_timeout_seconds,
                clock=overrides.clock,
            )
            # Every way a translation enters is admitted here (service/admission/translator.py).
            translator = Translator(
                settings=settings,
                sessions=sessions,
                engine=engine,
                providers=workspace_providers,
                glossaries=glossaries,
                priors=language_priors,
                usage=usage_services,
            )
            chat_bot = ChatBot(
                ChatDeps(
                    settings=settings,
                    sessions=sessions,
                    identity=identity,
                    priors=language_priors,
                    translator=translator,
                )
            )
            # Closed first (the stack unwinds in reverse): translations still in flight are
            # drained while the engine and the database are still open.
            stack.push_async_callback(chat_bot.aclose)
            app.state.services = ServiceContainer(
                settings=settings,
                clock=overrides.clock,
                outbound_policy=policy,
                database_role=role,
                sessions=sessions,
                cache=cache,
                usage=usage_services,
                keyring=keyring,
                key_verifier=KeyVerifier(
                    sessions,
                    cache_seconds=settings.security.api_key_cache_seconds,
                    clock=overrides.clock,
                ),
                identity=identity,
                workspace_providers=workspace_providers,
                glossaries=glossaries,
                language_priors=language_priors,
                engine=engine,
                translator=translator,
                chat_bot=chat_bot,
            )
            # Everything built so far lives as long as the process: move it out of the garbage
            # collector's sight, or every full collection walks it and stalls requests
            # (measured: cached-path p99 120 ms -> 26 ms, bench/README.md).
            gc.collect()
            gc.freeze()
            yield

    api = Router(
        path="/api/v1",
        route_handlers=[
            TranslateController,
            *ACCOUNT_ROUTES,
            ProvidersController,
            GlossariesController,
            *USAGE_ROUTES,
            PrivacyController,
            rocketchat_status,
        ],
        middleware=[api_key_middleware],
        security=[{"apiKey": []}, {"bearer": []}],
    )

    def provide_services() -> ServiceContainer:
        # No parameters: Litestar has nothing to parse for it on a request. Not cached, so an
        # app started twice (tests) hands out the services of its current lifespan.
        return services_of(app)

    app = Litestar(
        route_handlers=[api, libretranslate, outgoing, live, ready, prometheus, console],
        lifespan=[lifespan],
        # Handlers declare `services: Services`; middleware and hooks use `services_of(app)`.
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=HANDLERS,
        # Writes on a read-only replica, NUL and over-deep JSON are refused before any handler
        # parses the body.
        before_request=edge_checks,
        request_max_body_size=settings.limits.max_body_bytes,
        cors_config=None if settings.is_production else CORSConfig(allow_origins=["*"]),
        openapi_config=_openapi() if settings.schema_served else None,
        debug=False,
        # Logging is ours (JSON on stdout, configured by `utp serve`); Litestar must not replace it.
        logging_config=None,
    )
    # Outside Litestar's own middleware stack so that unmatched routes (404/405) get a request
    # id, an access log line and metrics too.
    app.asgi_handler = request_context(app.asgi_handler, production=settings.is_production)
    allow_every_method(app)
    if settings.schema_served:
        document_errors(app, settings.limits, policy)
    return app


async def edge_checks(request: Request[Any, Any, Any]) -> None:
    """The app's one `before_request` hook (a route's own would replace it: none has one)."""
    await refuse_writes_on_replica(request)
    await guard(request)


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Universal Translator Pro",
        version=__version__,
        path="/schema",
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header"
                ),
                "bearer": SecurityScheme(type="http", scheme="bearer"),
            }
        ),
    )
