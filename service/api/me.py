"""The calling user's own identity and preferences (user tokens only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import JSONBody

from service.accounts import audit, preferences, roles
from service.api.auth import principal_of
from service.container import Services

AnyRequest = Request[Any, Any, Any]
UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


class Me(msgspec.Struct, frozen=True):
    user_id: str
    username: str | None
    workspace_id: str
    role: str


class Preferences(msgspec.Struct, frozen=True):
    target_lang: str
    # "preference" (chosen here), "rocketchat" (the Rocket.Chat profile) or "default" (en).
    target_lang_source: str
    enabled: bool
    quality_tier: str | None
    show_original: bool
    updated_at: datetime | None


class PreferencesUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Absent fields stay as they are; `target_lang: null` goes back to the profile language."""

    target_lang: str | UnsetType | None = UNSET
    enabled: bool | UnsetType = UNSET
    quality_tier: str | UnsetType | None = UNSET
    show_original: bool | UnsetType = UNSET


def _view(value: preferences.Effective) -> Preferences:
    return Preferences(
        target_lang=value.target_lang,
        target_lang_source=value.target_lang_source,
        enabled=value.enabled,
        quality_tier=value.quality_tier,
        show_original=value.show_original,
        updated_at=value.updated_at,
    )


class MeController(Controller):
    path = "/me"
    tags = ["users"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", summary="Who the token belongs to")
    async def me(self, request: AnyRequest, services: Services) -> Me:
        principal = principal_of(request)
        user_id = roles.require_user(principal)
        async with services.sessions() as session:
            user = await preferences.user_of(session, principal.workspace_id, user_id)
        return Me(
            user_id=user_id,
            username=user.username,
            workspace_id=str(principal.workspace_id),
            role=principal.role,
        )

    @get("/preferences", summary="My translation preferences")
    async def get_preferences(self, request: AnyRequest, services: Services) -> Preferences:
        principal = principal_of(request)
        user_id = roles.require_user(principal)
        async with services.sessions() as session:
            return _view(await preferences.read(session, principal.workspace_id, user_id))

    @put("/preferences", summary="Change my translation preferences")
    async def put_preferences(
        self, request: AnyRequest, services: Services, data: JSONBody[PreferencesUpdate]
    ) -> Preferences:
        principal = principal_of(request)
        user_id = roles.require_user(principal)
        changes = {
            name: value
            for name in data.__struct_fields__
            if (value := getattr(data, name)) is not UNSET
        }
        async with services.sessions.begin() as session:
            value = await preferences.update(
                session, principal.workspace_id, user_id, changes, actor=audit.actor_of(principal)
            )
        return _view(value)
