"""Per-workspace provider configuration: the workspace's own keys, and the router built from them.

An admin stores keys for the HTTP providers (sealed with `accounts.crypto`; never returned,
only masked), and chooses the enabled providers in preference order, the default quality tier,
and whether providers it has no key for may use the server's keys (`use_server_providers`).
The keyless offline engine (Apertium) is always available unless `enabled_providers` omits it.

`WorkspaceProviders.resolve()` gives the hot path a workspace's `Router`, built once and cached:
its own keys become provider instances (a copy of the server's `ProviderSettings`) that share
the server's outbound HTTP client; the server's instances join when allowed, sharing their circuit
breakers with the server's router. A change invalidates the entry on this replica at once;
other replicas reload within `ttl` seconds (they re-read the configuration and rebuild only
when it changed, so breaker state survives).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.crypto import CryptoError, Keyring, credential_context
from service.db.models import ProviderCredential, WorkspaceSettings
from service.errors import Conflict, NotFound, ValidationFailed
from service.netpolicy import OutboundPolicy
from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret, Settings
from service.translation.providers.anthropic import AnthropicProvider
from service.translation.providers.base import Provider
from service.translation.providers.deepl import DeepLProvider
from service.translation.providers.google import GoogleProvider
from service.translation.providers.libretranslate import LibreTranslateProvider
from service.translation.providers.openai import OpenAIProvider
from service.translation.router import STRATEGIES, Router

log = logging.getLogger(__name__)

KEYLESS: Final = frozenset({"apertium"})
MAX_KEY_CHARS: Final = 1_000
_DEFAULTS: Final = ProviderSettings()


@dataclass(frozen=True, slots=True)
class Spec:
    """How a workspace configures one HTTP provider: which `ProviderSettings` fields it sets."""

    name: str
    cls: Callable[[ProviderSettings, OutboundClient], Provider]
    key_field: str
    url_field: str
    model_field: str | None = None
    key_required: bool = True
    url_required: bool = False


SPECS: Final = {
    s.name: s
    for s in (
        Spec("deepl", DeepLProvider, "deepl_api_key", "deepl_base_url"),
        Spec("google", GoogleProvider, "google_api_key", "google_base_url"),
        Spec("openai", OpenAIProvider, "openai_api_key", "openai_base_url", "openai_model"),
        Spec(
            "anthropic",
            AnthropicProvider,
            "anthropic_api_key",
            "anthropic_base_url",
            "anthropic_model",
        ),
        Spec(
            "libretranslate",
            LibreTranslateProvider,
            "libretranslate_api_key",
            "libretranslate_url",
            key_required=False,
            url_required=True,
        ),
    )
}
NAMES: Final = (*SPECS, *sorted(KEYLESS))


def mask(key: str) -> str:
    """`sk-proj-abc…wxyz` -> `sk-…wxyz`: a recognisable prefix and the last four characters."""
    if not key:
        return ""
    tail = key[-4:] if len(key) >= 16 else ""
    head = ""
    for sep in ("-", "_"):
        index = key.find(sep)
        if 0 < index <= 4 and len(key) >= 16:
            head = key[: index + 1]
            break
    return f"{head}…{tail}"


def spec_of(name: str) -> Spec:
    spec = SPECS.get(name)
    if spec is None:
        raise NotFound(
            f"no configurable provider named {name!r}",
            details={"providers": sorted(SPECS)},
        )
    return spec


def check_base_url(url: str, *, production: bool, policy: OutboundPolicy | None = None) -> str:
    """A provider URL a workspace may point the server at (`service/netpolicy.py`): in
    production https and a public host, so a workspace cannot reach internal services."""
    if policy is None:
        policy = OutboundPolicy.build(production=production, allow_http=False, allowed_networks=())
    return policy.check_url(url, "base_url")


# -- configuration (the admin API's domain functions) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    key: str | None  # masked; None when it cannot be decrypted
    base_url: str | None
    model: str | None
    updated_at: datetime
    usable: bool


@dataclass(frozen=True, slots=True)
class Configuration:
    enabled_providers: list[str] | None
    default_quality_tier: str | None
    use_server_providers: bool
    credentials: dict[str, Credential]


async def configuration(
    session: AsyncSession, keyring: Keyring, workspace_id: uuid.UUID
) -> Configuration:
    row = await session.get(WorkspaceSettings, workspace_id)
    creds = await session.scalars(
        sa.select(ProviderCredential).where(ProviderCredential.workspace_id == workspace_id)
    )
    shown: dict[str, Credential] = {}
    for cred in creds:
        try:
            plain = keyring.open_text(cred.secret, credential_context(workspace_id, cred.provider))
        except CryptoError:
            masked, usable = None, False
        else:
            masked, usable = mask(plain), True
        shown[cred.provider] = Credential(
            name=cred.provider,
            key=masked,
            base_url=cred.base_url,
            model=cred.model,
            updated_at=cred.updated_at,
            usable=usable,
        )
    return Configuration(
        enabled_providers=list(row.enabled_providers) if row and row.enabled_providers else None,
        default_quality_tier=row.default_quality_tier if row else None,
        use_server_providers=row.use_server_providers if row else True,
        credentials=shown,
    )


_UNSET: Any = object()


async def update_settings(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    enabled_providers: Sequence[str] | None = _UNSET,
    default_quality_tier: str | None = _UNSET,
    use_server_providers: bool = _UNSET,
    known: Collection[str] = NAMES,
) -> None:
    """Change what was given; `None` resets a field to the server's default."""
    row = await session.get(WorkspaceSettings, workspace_id)
    if row is None:
        row = WorkspaceSettings(workspace_id=workspace_id)
        session.add(row)
    if enabled_providers is not _UNSET:
        if enabled_providers is not None:
            unknown = [n for n in enabled_providers if n not in known]
            if unknown:
                raise ValidationFailed(
                    f"enabled_providers: unknown provider(s) {', '.join(unknown)}",
                    code="unknown_provider",
                    details={"field": "enabled_providers", "known": sorted(known)},
                )
            enabled_providers = list(dict.fromkeys(enabled_providers))
        row.enabled_providers = enabled_providers
    if default_quality_tier is not _UNSET:
        if default_quality_tier is not None and default_quality_tier not in STRATEGIES:
            raise ValidationFailed(
                f"default_quality_tier: one of {', '.join(STRATEGIES)}",
                details={"field": "default_quality_tier"},
            )
        row.default_quality_tier = default_quality_tier
    if use_server_providers is not _UNSET:
        row.use_server_providers = use_server_providers
    await session.flush()


async def put_credential(
    session: AsyncSession,
    keyring: Keyring,
    workspace_id: uuid.UUID,
    name: str,
    *,
    api_key: str | None = _UNSET,
    base_url: str | None = _UNSET,
    model: str | None = _UNSET,
    production: bool,
    policy: OutboundPolicy | None = None,
) -> None:
    """Store or change a workspace's key for `name`; an omitted key keeps the stored one,
    except when the URL changes: the stored key is never sent to a new address without the
    admin giving it again (a principal that can change the URL need not know the key)."""
    spec = spec_of(name)
    row = await session.get(ProviderCredential, (workspace_id, name))
    if api_key is not _UNSET and api_key is not None:
        api_key = api_key.strip()
        if len(api_key) > MAX_KEY_CHARS or any(c.isspace() or ord(c) < 32 for c in api_key):
            raise ValidationFailed(
                "api_key: at most 1000 characters, without spaces or control characters",
                details={"field": "api_key"},
            )
    if api_key is _UNSET or api_key is None:
        if row is None and spec.key_required:
            # The same body is fine once a key is stored: the state decides, hence 409.
            raise Conflict(
                f"api_key: required to configure {name}",
                code="api_key_required",
                details={"field": "api_key"},
            )
    elif not api_key and spec.key_required:
        raise ValidationFailed("api_key: must not be empty", details={"field": "api_key"})
    if base_url is not _UNSET and base_url:
        base_url = check_base_url(base_url, production=production, policy=policy)
    new_url = (row.base_url if row else None) if base_url is _UNSET else (base_url or None)
    if row is not None and new_url != row.base_url and (api_key is _UNSET or api_key is None):
        raise Conflict(
            "api_key: give the key again to change base_url (the stored key is never sent "
            "to a new address without it)",
            code="api_key_required",
            details={"field": "api_key"},
        )
    if spec.url_required and not new_url:
        # Left out with none stored: the state decides (409); given empty: the body (422).
        refusal = Conflict if base_url is _UNSET else ValidationFailed
        raise refusal(
            f"base_url: required to configure {name} (the server's URL)",
            code="base_url_required",
            details={"field": "base_url"},
        )
    if model is not _UNSET and model is not None:
        if spec.model_field is None:
            raise ValidationFailed(f"model: {name} has no models", details={"field": "model"})
        if not model.strip() or len(model) > 100:
            raise ValidationFailed("model: 1 to 100 characters", details={"field": "model"})
    context = credential_context(workspace_id, name)
    if row is None:
        row = ProviderCredential(
            workspace_id=workspace_id,
            provider=name,
            secret=keyring.seal_text(api_key or "", context),
            key_id=keyring.current_id,
        )
        session.add(row)
    elif api_key is not _UNSET and api_key is not None:
        row.secret = keyring.seal_text(api_key, context)
        row.key_id = keyring.current_id
    row.base_url = new_url
    if model is not _UNSET:
        row.model = model.strip() if model else None
    await session.flush()


async def delete_credential(session: AsyncSession, workspace_id: uuid.UUID, name: str) -> None:
    spec_of(name)
    result = await session.execute(
        sa.delete(ProviderCredential).where(
            ProviderCredential.workspace_id == workspace_id, ProviderCredential.provider == name
        )
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"this workspace has no key for {name}")


# -- the per-workspace router ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Routing:
    """What the hot path needs to know about a workspace's providers."""

    router: Router | None  # None: the server's router as it is
    default_tier: str | None = None
    # Names of the providers built with the workspace's own keys.
    own: frozenset[str] = frozenset()


@dataclass
class _Entry:
    routing: Routing
    fingerprint: str
    checked_at: float
    providers: list[Provider] = field(default_factory=list)


class _WorkspaceRouter(Router):
    """A router whose own-key breakers stay out of the server-wide breaker gauge."""

    shared: frozenset[str] = frozenset()

    def _publish(self, name: str) -> None:
        if name in self.shared:
            super()._publish(name)


class WorkspaceProviders:
    """Builds and caches each workspace's `Routing`."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        settings: ProviderSettings,
        client: OutboundClient,
        server: Router,
        ttl: float = 10.0,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._settings = settings
        self._client = client
        self._server = server
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    @property
    def server(self) -> Router:
        return self._server

    @property
    def known(self) -> set[str]:
        """The provider names a workspace may enable: those it can bring a key for, and the
        server's own."""
        return {*NAMES, *self._server.by_name}

    def invalidate(self, workspace_id: uuid.UUID) -> None:
        entry = self._entries.get(workspace_id)
        if entry is not None:
            entry.checked_at = float("-inf")

    async def resolve(self, workspace_id: uuid.UUID) -> Routing:
        entry = self._entries.get(workspace_id)
        if entry is not None and time.monotonic() - entry.checked_at < self._ttl:
            return entry.routing
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(workspace_id)
            if entry is not None and time.monotonic() - entry.checked_at < self._ttl:
                return entry.routing
            return await self._refresh(workspace_id, entry)

    async def _refresh(self, workspace_id: uuid.UUID, entry: _Entry | None) -> Routing:
        try:
            async with self._sessions() as session:
                row = await session.get(WorkspaceSettings, workspace_id)
                creds = list(
                    await session.scalars(
                        sa.select(ProviderCredential)
                        .where(ProviderCredential.workspace_id == workspace_id)
                        .order_by(ProviderCredential.provider)
                    )
                )
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            # Database down: keep serving what we knew; a workspace never seen uses the server's.
            log.warning("workspace provider configuration unavailable: %s", type(exc).__name__)
            if entry is not None:
                entry.checked_at = time.monotonic()
                return entry.routing
            return Routing(router=None)
        fingerprint = _fingerprint(row, creds)
        if entry is not None and entry.fingerprint == fingerprint:
            entry.checked_at = time.monotonic()
            return entry.routing
        built = await self._build(workspace_id, row, creds)
        if len(self._entries) >= self._max_entries and workspace_id not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[workspace_id] = built
        built.fingerprint = fingerprint
        return built.routing

    async def _build(
        self,
        workspace_id: uuid.UUID,
        row: WorkspaceSettings | None,
        creds: list[ProviderCredential],
    ) -> _Entry:
        tier = row.default_quality_tier if row else None
        enabled = list(row.enabled_providers) if row and row.enabled_providers else None
        allow_server = row.use_server_providers if row else True
        if not creds and enabled is None and allow_server:
            return _Entry(Routing(router=None, default_tier=tier), "", time.monotonic())

        own: list[Provider] = []
        unusable: set[str] = set()
        for cred in creds:
            spec = SPECS.get(cred.provider)
            if spec is None or (enabled is not None and cred.provider not in enabled):
                continue
            try:
                key = self._keyring.open_text(
                    cred.secret, credential_context(workspace_id, cred.provider)
                )
            except CryptoError as exc:
                # Never silently fall back to the server's key for a provider the workspace
                # meant to pay for itself.
                unusable.add(cred.provider)
                log.error(
                    "workspace %s: its %s key cannot be decrypted (%s); provider disabled",
                    workspace_id,
                    cred.provider,
                    exc,
                )
                continue
            provider = spec.cls(self._settings_for(spec, key, cred), self._client)
            try:
                await provider.start()
            except Exception as exc:  # a workspace's server being down must not fail requests
                log.warning("workspace %s: %s did not start: %s", workspace_id, spec.name, exc)
            own.append(provider)

        own_names = {p.name for p in own}
        shared = [
            p
            for p in self._server.providers
            if p.name not in own_names
            and p.name not in unusable
            and (allow_server or p.name in KEYLESS)
            and (enabled is None or p.name in enabled)
        ]
        order = enabled or list(self._settings.provider_order)
        router = _WorkspaceRouter(
            [*own, *shared],
            order=order,
            timeout=self._server.timeout,
            max_retries=self._server.max_retries,
            backoff_base=self._server.backoff_base,
            backoff_cap=self._server.backoff_cap,
            breaker_threshold=self._settings.breaker_failure_threshold,
            breaker_cooldown=self._settings.breaker_cooldown_seconds,
        )
        router.shared = frozenset(p.name for p in shared)
        for p in shared:
            # One health record per server provider, whichever workspace calls it.
            router.breakers[p.name] = self._server.breakers[p.name]
        for p in self._server.providers:
            # Router() reset the gauge of every name it got; the server's state is the truth.
            self._server._publish(p.name)
        return _Entry(
            Routing(router=router, default_tier=tier, own=frozenset(own_names)),
            "",
            time.monotonic(),
            own,
        )

    def _settings_for(self, spec: Spec, key: str, cred: ProviderCredential) -> ProviderSettings:
        changes: dict[str, Any] = {
            spec.key_field: Secret(key),
            # The provider's public API unless the workspace names another: the server's own
            # base URL may be a proxy for the server's account.
            spec.url_field: cred.base_url or getattr(_DEFAULTS, spec.url_field),
        }
        if spec.model_field is not None and cred.model:
            changes[spec.model_field] = cred.model
        return dataclasses.replace(self._settings, **changes)


def _fingerprint(row: WorkspaceSettings | None, creds: list[ProviderCredential]) -> str:
    digest = hashlib.sha256()
    if row is not None:
        digest.update(
            repr(
                (row.enabled_providers, row.default_quality_tier, row.use_server_providers)
            ).encode()
        )
    for cred in creds:
        digest.update(repr((cred.provider, cred.base_url, cred.model)).encode())
        digest.update(cred.secret)
    return digest.hexdigest()


async def open_workspace_providers(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: OutboundClient,
    server: Router,
) -> tuple[Keyring, WorkspaceProviders]:
    """The keyring and the per-workspace routers (built in the app's lifespan)."""
    try:
        # KMS unwrapping is a blocking network call; it happens once, at start-up.
        keyring = await asyncio.to_thread(
            Keyring.from_settings, settings.security, production=settings.is_production
        )
    except CryptoError as exc:
        raise RuntimeError(f"cannot load the encryption key: {exc}") from None
    workspace_providers = WorkspaceProviders(
        sessions=sessions,
        keyring=keyring,
        settings=settings.providers,
        client=client,
        server=server,
    )
    return keyring, workspace_providers
