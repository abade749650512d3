"""End users of a workspace and their translation preferences.

The effective target language is the user's own choice, else the language of their Rocket.Chat
profile, else English.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import audit
from service.accounts.workspaces import QUALITY_TIERS
from service.db.models import User, UserPreferences
from service.errors import NotFound, ValidationFailed
from service.translation import languages

DEFAULT_LANGUAGE = "en"


async def upsert_user(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    external_id: str,
    *,
    username: str | None,
    rocketchat_language: str | None,
) -> User:
    """The workspace's record of a Rocket.Chat user, refreshed from what Rocket.Chat said."""
    user = await session.scalar(
        sa.select(User).where(User.workspace_id == workspace_id, User.external_id == external_id)
    )
    profile_lang = languages.normalize(rocketchat_language) if rocketchat_language else None
    if user is None:
        user = User(id=uuid.uuid4(), workspace_id=workspace_id, external_id=external_id)
        session.add(user)
    user.username = username[:200] if username else user.username
    if profile_lang is not None or rocketchat_language is not None:
        user.rocketchat_language = profile_lang
    user.last_seen_at = datetime.now(UTC)
    await session.flush()
    return user


async def user_of(session: AsyncSession, workspace_id: uuid.UUID, external_id: str) -> User:
    user = await session.scalar(
        sa.select(User).where(User.workspace_id == workspace_id, User.external_id == external_id)
    )
    if user is None:
        raise NotFound("no such user")
    return user


@dataclass(frozen=True, slots=True)
class Effective:
    target_lang: str
    target_lang_source: str  # "preference" | "rocketchat" | "default"
    stored_target_lang: str | None
    enabled: bool
    quality_tier: str | None
    show_original: bool
    updated_at: datetime | None


def effective(user: User, prefs: UserPreferences | None) -> Effective:
    if prefs is not None and prefs.target_lang:
        target, origin = prefs.target_lang, "preference"
    elif user.rocketchat_language:
        target, origin = user.rocketchat_language, "rocketchat"
    else:
        target, origin = DEFAULT_LANGUAGE, "default"
    return Effective(
        target_lang=target,
        target_lang_source=origin,
        stored_target_lang=prefs.target_lang if prefs else None,
        enabled=prefs.enabled if prefs else True,
        quality_tier=prefs.quality_tier if prefs else None,
        show_original=prefs.show_original if prefs else True,
        updated_at=prefs.updated_at if prefs else None,
    )


async def read(session: AsyncSession, workspace_id: uuid.UUID, external_id: str) -> Effective:
    user = await user_of(session, workspace_id, external_id)
    return effective(user, await session.get(UserPreferences, user.id))


def _stored(prefs: UserPreferences | None) -> dict[str, Any]:
    if prefs is None:
        return {"target_lang": None, "enabled": True, "quality_tier": None, "show_original": True}
    return {
        "target_lang": prefs.target_lang,
        "enabled": prefs.enabled,
        "quality_tier": prefs.quality_tier,
        "show_original": prefs.show_original,
    }


async def update(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    external_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
) -> Effective:
    """Apply the given fields (absent fields stay; `target_lang: null` falls back again)."""
    values: dict[str, Any] = {}
    if "target_lang" in changes:
        code = changes["target_lang"]
        values["target_lang"] = None if code is None else languages.require(code, "target_lang")
    if "quality_tier" in changes:
        tier = changes["quality_tier"]
        if tier is not None and tier not in QUALITY_TIERS:
            raise ValidationFailed(
                f"quality_tier: must be one of {', '.join(QUALITY_TIERS)}",
                details={"field": "quality_tier", "value": tier},
            )
        values["quality_tier"] = tier
    for flag in ("enabled", "show_original"):
        if flag in changes:
            values[flag] = bool(changes[flag])
    user = await user_of(session, workspace_id, external_id)
    prefs = await session.get(UserPreferences, user.id)
    before = _stored(prefs)
    if prefs is None:
        prefs = UserPreferences(user_id=user.id, enabled=True, show_original=True)
        session.add(prefs)
    for name, value in values.items():
        setattr(prefs, name, value)
    prefs.updated_at = datetime.now(UTC)
    await session.flush()
    after = _stored(prefs)
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="user.preferences.update",
            target=f"user:{external_id}",
            workspace_id=workspace_id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return effective(user, prefs)
