"""A channel's translation settings: readable by anyone of the workspace, changed by its admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import FromPath, JSONBody

from service.accounts import audit, channels
from service.accounts.identity import Identity
from service.api.auth import principal_of
from service.container import Services

AnyRequest = Request[Any, Any, Any]
UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


class Channel(msgspec.Struct, frozen=True):
    channel_id: str
    enabled: bool
    allowed_langs: list[str] | None
    blocked_langs: list[str] | None
    max_cost_per_message: float | None
    glossary_id: uuid.UUID | None
    formality: str | None
    context_enabled: bool
    delivery_mode: str
    updated_at: datetime | None


UUID_TEXT = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ChannelUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Absent fields stay as they are; null clears a list, limit, glossary or formality."""

    enabled: bool | UnsetType = UNSET
    allowed_langs: list[str] | UnsetType | None = UNSET
    blocked_langs: list[str] | UnsetType | None = UNSET
    # USD, what channels._cost accepts.
    max_cost_per_message: (
        Annotated[float, msgspec.Meta(ge=0, le=float(channels.MAX_COST_PER_MESSAGE))]
        | UnsetType
        | None
    ) = UNSET
    # A glossary's id as the API writes it (hex UUID); any other spelling is refused here.
    glossary_id: Annotated[str, msgspec.Meta(pattern=UUID_TEXT)] | UnsetType | None = UNSET
    formality: Literal["more", "less", "default"] | UnsetType | None = UNSET
    context_enabled: bool | UnsetType = UNSET
    delivery_mode: Literal["thread", "attachment"] | UnsetType = UNSET


def _view(value: channels.ChannelView) -> Channel:
    cost: Decimal | None = value.max_cost_per_message
    return Channel(
        channel_id=value.channel_id,
        enabled=value.enabled,
        allowed_langs=value.allowed_langs,
        blocked_langs=value.blocked_langs,
        max_cost_per_message=float(cost) if cost is not None else None,
        glossary_id=value.glossary_id,
        formality=value.formality,
        context_enabled=value.context_enabled,
        delivery_mode=value.delivery_mode,
        updated_at=value.updated_at,
    )


class ChannelsController(Controller):
    path = "/channels"
    tags = ["channels"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/{channel_id:str}", summary="A channel's translation settings")
    async def get_channel(
        self, request: AnyRequest, services: Services, channel_id: FromPath[str]
    ) -> Channel:
        principal = principal_of(request)
        channel = channels.check_channel_id(channel_id)
        async with services.sessions() as session:
            return _view(await channels.read(session, principal.workspace_id, channel))

    @put("/{channel_id:str}", summary="Change a channel's settings (channel admins)")
    async def put_channel(
        self,
        request: AnyRequest,
        services: Services,
        channel_id: FromPath[str],
        data: JSONBody[ChannelUpdate],
    ) -> Channel:
        principal = principal_of(request)
        channel = channels.check_channel_id(channel_id)
        identity: Identity = services.identity
        await identity.roles.require_channel_admin(principal, channel)
        changes = {
            name: value
            for name in data.__struct_fields__
            if (value := getattr(data, name)) is not UNSET
        }
        async with services.sessions.begin() as session:
            value = await channels.update(
                session, principal.workspace_id, channel, changes, actor=audit.actor_of(principal)
            )
        return _view(value)
