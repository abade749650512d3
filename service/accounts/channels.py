"""Per-channel translation settings of a workspace (a channel without a row has the defaults)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import audit
from service.db.models import ChannelSettings, Glossary
from service.errors import NotFound, ValidationFailed
from service.translation import languages

FORMALITIES = ("more", "less", "default")
DELIVERY_MODES = ("thread", "attachment")
MAX_COST_PER_MESSAGE = Decimal("1000")
MAX_LANGS = 100
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def check_channel_id(raw: str) -> str:
    """Rocket.Chat room ids are short alphanumeric strings; anything else names no channel."""
    if not _CHANNEL_ID.match(raw or ""):
        raise NotFound("no such channel")
    return raw


@dataclass(frozen=True, slots=True)
class ChannelView:
    channel_id: str
    enabled: bool
    allowed_langs: list[str] | None
    blocked_langs: list[str] | None
    max_cost_per_message: Decimal | None
    glossary_id: uuid.UUID | None
    formality: str | None
    context_enabled: bool
    delivery_mode: str
    updated_at: datetime | None


def view(channel_id: str, row: ChannelSettings | None) -> ChannelView:
    if row is None:
        return ChannelView(
            channel_id=channel_id,
            enabled=True,
            allowed_langs=None,
            blocked_langs=None,
            max_cost_per_message=None,
            glossary_id=None,
            formality=None,
            context_enabled=True,
            delivery_mode="thread",
            updated_at=None,
        )
    return ChannelView(
        channel_id=channel_id,
        enabled=row.enabled,
        allowed_langs=list(row.allowed_langs) if row.allowed_langs is not None else None,
        blocked_langs=list(row.blocked_langs) if row.blocked_langs is not None else None,
        max_cost_per_message=row.max_cost_per_message,
        glossary_id=row.glossary_id,
        formality=row.formality,
        context_enabled=row.context_enabled,
        delivery_mode=row.delivery_mode,
        updated_at=row.updated_at,
    )


async def read(session: AsyncSession, workspace_id: uuid.UUID, channel_id: str) -> ChannelView:
    row = await session.get(ChannelSettings, (workspace_id, channel_id))
    return view(channel_id, row)


def _langs(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_LANGS:
        raise ValidationFailed(
            f"{field}: give a list of at most {MAX_LANGS} language codes",
            details={"field": field},
        )
    return list(dict.fromkeys(languages.require(c, f"{field}[{i}]") for i, c in enumerate(value)))


async def _validated(
    session: AsyncSession, workspace_id: uuid.UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for flag in ("enabled", "context_enabled"):
        if flag in changes:
            values[flag] = bool(changes[flag])
    for field in ("allowed_langs", "blocked_langs"):
        if field in changes:
            values[field] = _langs(changes[field], field)
    if "max_cost_per_message" in changes:
        values["max_cost_per_message"] = _cost(changes["max_cost_per_message"])
    if "formality" in changes:
        formality = changes["formality"]
        if formality is not None and formality not in FORMALITIES:
            raise ValidationFailed(
                f"formality: must be one of {', '.join(FORMALITIES)}",
                details={"field": "formality", "value": formality},
            )
        values["formality"] = formality
    if "delivery_mode" in changes:
        mode = changes["delivery_mode"]
        if mode not in DELIVERY_MODES:
            raise ValidationFailed(
                f"delivery_mode: must be one of {', '.join(DELIVERY_MODES)}",
                details={"field": "delivery_mode", "value": mode},
            )
        values["delivery_mode"] = mode
    if "glossary_id" in changes:
        values["glossary_id"] = await _glossary(session, workspace_id, changes["glossary_id"])
    return values


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount > MAX_COST_PER_MESSAGE:
        raise ValidationFailed(
            f"max_cost_per_message: an amount in USD from 0 to {MAX_COST_PER_MESSAGE}, or null",
            details={"field": "max_cost_per_message"},
        )
    return amount.quantize(Decimal("0.00000001"))


async def _glossary(session: AsyncSession, workspace_id: uuid.UUID, value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        glossary_id = uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            "glossary_id: not a glossary id", details={"field": "glossary_id"}
        ) from None
    found = await session.scalar(
        sa.select(Glossary.id).where(
            Glossary.id == glossary_id, Glossary.workspace_id == workspace_id
        )
    )
    if found is None:
        # Another workspace's glossary is indistinguishable from one that does not exist.
        raise NotFound("glossary_id: no such glossary", details={"field": "glossary_id"})
    return glossary_id


def _audit(v: ChannelView) -> dict[str, Any]:
    return {
        "enabled": v.enabled,
        "allowed_langs": v.allowed_langs,
        "blocked_langs": v.blocked_langs,
        "max_cost_per_message": (
            str(v.max_cost_per_message) if v.max_cost_per_message is not None else None
        ),
        "glossary_id": str(v.glossary_id) if v.glossary_id else None,
        "formality": v.formality,
        "context_enabled": v.context_enabled,
        "delivery_mode": v.delivery_mode,
    }


async def update(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    channel_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
) -> ChannelView:
    values = await _validated(session, workspace_id, changes)
    row = await session.get(ChannelSettings, (workspace_id, channel_id))
    before = _audit(view(channel_id, row))
    if row is None:
        row = ChannelSettings(
            workspace_id=workspace_id,
            channel_id=channel_id,
            enabled=True,
            context_enabled=True,
            delivery_mode="thread",
        )
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    await session.flush()
    result = view(channel_id, row)
    after = _audit(result)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="channel.settings.update",
            target=f"channel:{channel_id}",
            workspace_id=workspace_id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return result
