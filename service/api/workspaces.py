"""Workspaces (operator), and a workspace's API keys, settings and webhook token (admins).

`{workspace_id}` is a workspace id or `current` (the caller's own). Any other workspace is a
404 for everyone but operators, whether or not it exists.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody

from service.accounts import apikeys, audit, roles, workspaces
from service.accounts.identity import Identity
from service.accounts.keys import KeyVerifier, Principal
from service.api.auth import principal_of
from service.clock import Clock
from service.container import Services
from service.errors import ValidationFailed
from service.settings import Settings

AnyRequest = Request[Any, Any, Any]
UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


class Workspace(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    created_at: datetime


class WorkspaceList(msgspec.Struct, frozen=True):
    workspaces: list[Workspace]


class WorkspaceCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str


class WorkspaceUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str


class ApiKey(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str


class ApiKeyCreated(msgspec.Struct, frozen=True):
    """The only answer that ever contains the key itself."""

    key: str
    api_key: ApiKey


class ApiKeyCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    scopes: list[str] = msgspec.field(default_factory=lambda: ["translate"])
    expires_in_days: int | None = None


class ApiKeyList(msgspec.Struct, frozen=True):
    api_keys: list[ApiKey]


class WorkspaceCreated(msgspec.Struct, frozen=True):
    workspace: Workspace
    admin_key: ApiKeyCreated


class WorkspaceSettings(msgspec.Struct, frozen=True):
    rocketchat_url: str | None
    rocketchat_bot_user_id: str | None
    rocketchat_bot_token_set: bool
    webhook_token_set: bool
    default_quality_tier: str | None
    languages: list[str] | None
    message_retention_days: int
    updated_at: datetime


class WorkspaceSettingsUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Absent fields stay as they are; null clears one. The bot token is write-only."""

    rocketchat_url: str | UnsetType | None = UNSET
    rocketchat_bot_user_id: str | UnsetType | None = UNSET
    rocketchat_bot_token: str | UnsetType | None = UNSET
    default_quality_tier: str | UnsetType | None = UNSET
    languages: list[str] | UnsetType | None = UNSET
    message_retention_days: int | UnsetType = UNSET


class WebhookToken(msgspec.Struct, frozen=True):
    """Shown once: paste it into the Rocket.Chat outgoing integration's Token field."""

    webhook_token: str


def target_workspace(principal: Principal, raw: str) -> uuid.UUID:
    workspace_id = principal.workspace_id if raw == "current" else workspaces.parse_id(raw)
    roles.require_workspace(principal, workspace_id)
    return workspace_id


def _workspace(row: Any) -> Workspace:
    return Workspace(**workspaces.describe(row))


def _key(row: Any, clock: Clock) -> ApiKey:
    return ApiKey(**apikeys.describe(row, clock=clock))


class WorkspacesController(Controller):
    path = "/workspaces"
    tags = ["workspaces"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", opt={"scope": "operator"}, summary="List every workspace (operator)")
    async def list_workspaces(self, services: Services) -> WorkspaceList:
        async with services.sessions() as session:
            rows = await workspaces.list_all(session)
        return WorkspaceList(workspaces=[_workspace(r) for r in rows])

    @post("/", opt={"scope": "operator"}, summary="Create a workspace and its admin key")
    async def create_workspace(
        self, request: AnyRequest, services: Services, data: JSONBody[WorkspaceCreate]
    ) -> WorkspaceCreated:
        actor = audit.actor_of(principal_of(request))
        async with services.sessions.begin() as session:
            issued = await workspaces.create(session, data.name, actor=actor)
            row = await workspaces.get(session, issued.workspace_id)
            key = await apikeys.get(session, issued.workspace_id, issued.key_id)
            return WorkspaceCreated(
                workspace=_workspace(row),
                admin_key=ApiKeyCreated(key=issued.key, api_key=_key(key, services.clock)),
            )

    @get("/{workspace_id:str}", opt={"scope": "admin"}, summary="One workspace")
    async def get_workspace(
        self, request: AnyRequest, services: Services, workspace_id: FromPath[str]
    ) -> Workspace:
        target = target_workspace(principal_of(request), workspace_id)
        async with services.sessions() as session:
            return _workspace(await workspaces.get(session, target))

    @patch("/{workspace_id:str}", opt={"scope": "operator"}, summary="Rename a workspace")
    async def rename_workspace(
        self,
        request: AnyRequest,
        services: Services,
        workspace_id: FromPath[str],
        data: JSONBody[WorkspaceUpdate],
    ) -> Workspace:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        async with services.sessions.begin() as session:
            row = await workspaces.rename(
                session, target, data.name, actor=audit.actor_of(principal)
            )
            return _workspace(row)

    @delete(
        "/{workspace_id:str}",
        opt={"scope": "operator"},
        status_code=204,
        summary="Delete a workspace and everything it owns",
    )
    async def delete_workspace(
        self, request: AnyRequest, services: Services, workspace_id: FromPath[str]
    ) -> None:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        async with services.sessions.begin() as session:
            key_ids = await workspaces.delete(session, target, actor=audit.actor_of(principal))
        verifier: KeyVerifier = services.key_verifier
        verifier.forget(key_ids)

    # -- API keys ------------------------------------------------------------------------------

    @get("/{workspace_id:str}/keys", opt={"scope": "admin"}, summary="The workspace's API keys")
    async def list_keys(
        self, request: AnyRequest, services: Services, workspace_id: FromPath[str]
    ) -> ApiKeyList:
        target = target_workspace(principal_of(request), workspace_id)
        async with services.sessions() as session:
            await workspaces.get(session, target)
            rows = await apikeys.list_keys(session, target)
        return ApiKeyList(api_keys=[_key(r, services.clock) for r in rows])

    @post(
        "/{workspace_id:str}/keys",
        opt={"scope": "admin"},
        summary="Create an API key (the key is shown only in this answer)",
    )
    async def create_key(
        self,
        request: AnyRequest,
        services: Services,
        workspace_id: FromPath[str],
        data: JSONBody[ApiKeyCreate],
    ) -> ApiKeyCreated:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        expires_in_days = data.expires_in_days
        if principal.token_id is not None:
            # A key minted with a short-lived user token expires within a bounded time.
            settings: Settings = services.settings
            bound = max(1, settings.security.token_minted_key_max_days)
            if expires_in_days is None:
                expires_in_days = bound
            elif expires_in_days > bound:
                raise ValidationFailed(
                    f"expires_in_days: a key created with a user token expires within {bound} "
                    "days (UTP_TOKEN_MINTED_KEY_MAX_DAYS); use an admin API key for longer",
                    details={"field": "expires_in_days", "max": bound},
                )
        async with services.sessions.begin() as session:
            await workspaces.get(session, target)
            issued = await apikeys.create(
                session,
                target,
                name=data.name,
                scopes=data.scopes,
                expires_in_days=expires_in_days,
                actor=audit.actor_of(principal),
                clock=services.clock,
            )
            row = await apikeys.get(session, target, issued.key_id)
            return ApiKeyCreated(key=issued.key, api_key=_key(row, services.clock))

    @delete(
        "/{workspace_id:str}/keys/{key_id:str}",
        opt={"scope": "admin"},
        status_code=200,
        summary="Revoke an API key",
    )
    async def revoke_key(
        self,
        request: AnyRequest,
        services: Services,
        workspace_id: FromPath[str],
        key_id: FromPath[str],
    ) -> ApiKey:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        key_uuid = workspaces.parse_id(key_id, "API key")
        async with services.sessions.begin() as session:
            row = await apikeys.revoke(
                session,
                target,
                key_uuid,
                actor=audit.actor_of(principal),
                clock=services.clock,
            )
            result = _key(row, services.clock)
        verifier: KeyVerifier = services.key_verifier
        verifier.forget({key_uuid})
        return result

    # -- settings ------------------------------------------------------------------------------

    @get("/{workspace_id:str}/settings", opt={"scope": "admin"}, summary="Workspace settings")
    async def get_settings(
        self, request: AnyRequest, services: Services, workspace_id: FromPath[str]
    ) -> WorkspaceSettings:
        target = target_workspace(principal_of(request), workspace_id)
        async with services.sessions.begin() as session:
            await workspaces.get(session, target)
            row = await workspaces.settings_row(session, target)
            return WorkspaceSettings(**workspaces.settings_view(row))

    @put("/{workspace_id:str}/settings", opt={"scope": "admin"}, summary="Change settings")
    async def put_settings(
        self,
        request: AnyRequest,
        services: Services,
        workspace_id: FromPath[str],
        data: JSONBody[WorkspaceSettingsUpdate],
    ) -> WorkspaceSettings:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        identity: Identity = services.identity
        change = workspaces.SettingsChange(
            **{
                name: value
                for name in data.__struct_fields__
                if (value := getattr(data, name)) is not UNSET
            }
        )
        async with services.sessions.begin() as session:
            await workspaces.get(session, target)
            row = await workspaces.update_settings(
                session,
                target,
                change,
                actor=audit.actor_of(principal),
                keyring=identity.keyring(),
                policy=services.outbound_policy,
            )
            return WorkspaceSettings(**workspaces.settings_view(row))

    @post(
        "/{workspace_id:str}/webhook-token",
        opt={"scope": "admin"},
        summary="Generate a new outgoing-webhook token (shown only in this answer)",
    )
    async def rotate_webhook_token(
        self, request: AnyRequest, services: Services, workspace_id: FromPath[str]
    ) -> WebhookToken:
        principal = principal_of(request)
        target = target_workspace(principal, workspace_id)
        async with services.sessions.begin() as session:
            await workspaces.get(session, target)
            token = await workspaces.rotate_webhook_token(
                session, target, actor=audit.actor_of(principal)
            )
        return WebhookToken(webhook_token=token)
