"""Admin API for a workspace's providers: its own keys (write-only, shown masked), the enabled
providers and their order, the default quality tier, and fallback on the server's providers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.params import FromPath, JSONBody

from service.accounts import audit
from service.accounts import providers as config
from service.api.auth import principal_of
from service.api.schemas import NON_BLANK
from service.container import Services
from service.settings import Settings

AnyRequest = Request[Any, Any, Any]
Tier = Literal["economy", "balanced", "premium"]


class ProviderView(msgspec.Struct, frozen=True):
    name: str
    # Whether this workspace stored its own key (or server URL) for the provider.
    configured: bool
    # Whether translations of this workspace can use it now, and with whose key.
    enabled: bool
    source: Literal["workspace", "server"] | None
    key: str | None = None  # masked, e.g. "sk-…abcd"; never the key
    base_url: str | None = None
    model: str | None = None
    # False when the stored key cannot be decrypted with the configured encryption keys.
    usable: bool = True
    updated_at: str | None = None


class ProvidersView(msgspec.Struct, frozen=True):
    enabled_providers: list[str] | None
    default_quality_tier: str | None
    use_server_providers: bool
    # What translations of this workspace can use, in preference order within a tier.
    effective: list[str]
    providers: list[ProviderView]


class ProvidersUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Only the fields given change; null resets one to the server's default."""

    enabled_providers: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    default_quality_tier: Tier | msgspec.UnsetType | None = msgspec.UNSET
    use_server_providers: bool | msgspec.UnsetType = msgspec.UNSET


class CredentialUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`api_key` may be left out to keep the stored key while changing the URL or model."""

    # What accounts.providers.save accepts: surrounding white space is dropped, none inside.
    api_key: (
        Annotated[
            str, msgspec.Meta(max_length=config.MAX_KEY_CHARS, pattern=r"^\s*[^\s\x00-\x1f]*\s*$")
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    # Checked against the outbound policy (service/netpolicy.py); api/openapi.py states it.
    base_url: str | msgspec.UnsetType | None = msgspec.UNSET
    # What accounts.providers.put_credential accepts: 1 to 100 characters, not only spaces.
    model: (
        Annotated[str, msgspec.Meta(max_length=100, pattern=NON_BLANK)] | msgspec.UnsetType | None
    ) = msgspec.UNSET


def _given(value: Any) -> Any:
    return config._UNSET if value is msgspec.UNSET else value


class ProvidersController(Controller):
    path = "/providers"
    tags = ["providers"]  # noqa: RUF012 - Litestar reads it as a class attribute
    opt = {"scope": "admin"}  # noqa: RUF012

    @get("/", summary="This workspace's provider configuration (keys masked)")
    async def show(self, request: AnyRequest, services: Services) -> ProvidersView:
        return await _view(request, services)

    @put("/", status_code=200, summary="Enabled providers, order, default tier, server fallback")
    async def update(
        self, request: AnyRequest, services: Services, data: JSONBody[ProvidersUpdate]
    ) -> ProvidersView:
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            before = await config.configuration(session, services.keyring, principal.workspace_id)
            await config.update_settings(
                session,
                principal.workspace_id,
                enabled_providers=_given(data.enabled_providers),
                default_quality_tier=_given(data.default_quality_tier),
                use_server_providers=_given(data.use_server_providers),
                known=services.workspace_providers.known,
            )
            after = await config.configuration(session, services.keyring, principal.workspace_id)
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="providers.update",
                target="providers",
                workspace_id=principal.workspace_id,
                before=_settings_record(before),
                after=_settings_record(after),
            )
        services.workspace_providers.invalidate(principal.workspace_id)
        return await _view(request, services)

    @get("/{name:str}", summary="One provider of this workspace (key masked)")
    async def show_one(
        self, request: AnyRequest, services: Services, name: FromPath[str]
    ) -> ProviderView:
        return await _one(request, services, name)

    @put("/{name:str}", status_code=200, summary="Store this workspace's key for a provider")
    async def put_one(
        self,
        request: AnyRequest,
        services: Services,
        name: FromPath[str],
        data: JSONBody[CredentialUpdate],
    ) -> ProviderView:
        principal = principal_of(request)
        settings: Settings = services.settings
        async with services.sessions.begin() as session:
            before = await config.configuration(session, services.keyring, principal.workspace_id)
            await config.put_credential(
                session,
                services.keyring,
                principal.workspace_id,
                name,
                api_key=_given(data.api_key),
                base_url=_given(data.base_url),
                model=_given(data.model),
                production=settings.is_production,
                policy=services.outbound_policy,
            )
            after = await config.configuration(session, services.keyring, principal.workspace_id)
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="providers.credential.put",
                target=f"providers/{name}",
                workspace_id=principal.workspace_id,
                before=_credential_record(before, name),
                after=_credential_record(after, name),
            )
        services.workspace_providers.invalidate(principal.workspace_id)
        return await _one(request, services, name)

    @delete("/{name:str}", status_code=204, summary="Forget this workspace's key for a provider")
    async def delete_one(
        self, request: AnyRequest, services: Services, name: FromPath[str]
    ) -> None:
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            before = await config.configuration(session, services.keyring, principal.workspace_id)
            await config.delete_credential(session, principal.workspace_id, name)
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="providers.credential.delete",
                target=f"providers/{name}",
                workspace_id=principal.workspace_id,
                before=_credential_record(before, name),
            )
        services.workspace_providers.invalidate(principal.workspace_id)


def _settings_record(c: config.Configuration) -> dict[str, Any]:
    return {
        "enabled_providers": c.enabled_providers,
        "default_quality_tier": c.default_quality_tier,
        "use_server_providers": c.use_server_providers,
    }


def _credential_record(c: config.Configuration, name: str) -> dict[str, Any] | None:
    cred = c.credentials.get(name)
    if cred is None:
        return None
    # The audit log masks `api_key` itself; the masked hint is kept to tell keys apart.
    return {"api_key": True, "key_hint": cred.key, "base_url": cred.base_url, "model": cred.model}


async def _one(request: AnyRequest, services: Services, name: str) -> ProviderView:
    if name not in services.workspace_providers.known:
        config.spec_of(name)
    view = await _view(request, services)
    return next(p for p in view.providers if p.name == name)


async def _view(request: AnyRequest, services: Services) -> ProvidersView:
    principal = principal_of(request)
    wp = services.workspace_providers
    async with services.sessions() as session:
        c = await config.configuration(session, services.keyring, principal.workspace_id)
    routing = await wp.resolve(principal.workspace_id)
    router = routing.router or wp.server
    effective = [p.name for p in router.providers]
    views = []
    for name in [*config.NAMES, *(n for n in wp.server.by_name if n not in config.NAMES)]:
        cred = c.credentials.get(name)
        enabled = name in router.by_name
        source: Literal["workspace", "server"] | None = (
            "workspace" if name in routing.own else "server" if enabled else None
        )
        views.append(
            ProviderView(
                name=name,
                configured=cred is not None,
                enabled=enabled,
                source=source,
                key=cred.key if cred else None,
                base_url=cred.base_url if cred else None,
                model=cred.model if cred else None,
                usable=cred.usable if cred else True,
                updated_at=cred.updated_at.isoformat() if cred else None,
            )
        )
    return ProvidersView(
        enabled_providers=c.enabled_providers,
        default_quality_tier=c.default_quality_tier,
        use_server_providers=c.use_server_providers,
        effective=effective,
        providers=views,
    )
