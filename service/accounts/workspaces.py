"""Workspaces (tenants) and their settings: CRUD for the operator, settings for admins.

Every change writes an audit entry in the same transaction. Secrets (the Rocket.Chat bot token,
the webhook token) are never returned: the bot token is sealed at rest, the webhook token is kept
only as a SHA-256 digest and shown once when it is generated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import audit
from service.accounts.crypto import CryptoError, Keyring, key_id_in
from service.accounts.keys import IssuedKey, create_workspace
from service.db.models import ApiKey, Workspace, WorkspaceSettings
from service.errors import NotFound, ValidationFailed
from service.netpolicy import OutboundPolicy
from service.translation import languages

QUALITY_TIERS = ("economy", "balanced", "premium")
MAX_RETENTION_DAYS = 3650


def parse_id(raw: str, what: str = "workspace") -> uuid.UUID:
    """A path id; anything that is not a UUID simply names nothing (404, like a foreign id)."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"no such {what}") from None


def _check_name(name: str) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > 200:
        raise ValidationFailed(
            "name: give 1 to 200 characters", details={"field": "name", "max": 200}
        )
    return cleaned


# -- workspaces -------------------------------------------------------------------------------


def describe(workspace: Workspace) -> dict[str, Any]:
    return {"id": workspace.id, "name": workspace.name, "created_at": workspace.created_at}


async def create(session: AsyncSession, name: str, *, actor: str) -> IssuedKey:
    """A new workspace and its first admin key (the caller shows it once)."""
    cleaned = _check_name(name)
    if await session.scalar(sa.select(Workspace.id).where(Workspace.name == cleaned)):
        raise ValidationFailed(
            f"name: a workspace named {cleaned!r} already exists",
            code="workspace_exists",
            details={"field": "name"},
        )
    issued = await create_workspace(session, cleaned)
    await audit.record(
        session,
        actor=actor,
        action="workspace.create",
        target=f"workspace:{issued.workspace_id}",
        workspace_id=issued.workspace_id,
        after={"name": cleaned, "admin_key_id": issued.key_id},
    )
    return issued


async def list_all(session: AsyncSession) -> list[Workspace]:
    return list(await session.scalars(sa.select(Workspace).order_by(Workspace.name)))


async def get(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("no such workspace")
    return workspace


async def by_name(session: AsyncSession, name: str) -> Workspace:
    workspace = await session.scalar(sa.select(Workspace).where(Workspace.name == name))
    if workspace is None:
        raise NotFound(f"no workspace named {name!r}")
    return workspace


async def rename(
    session: AsyncSession, workspace_id: uuid.UUID, name: str, *, actor: str
) -> Workspace:
    workspace = await get(session, workspace_id)
    cleaned = _check_name(name)
    if cleaned == workspace.name:
        return workspace
    taken = await session.scalar(
        sa.select(Workspace.id).where(Workspace.name == cleaned, Workspace.id != workspace_id)
    )
    if taken:
        raise ValidationFailed(
            f"name: a workspace named {cleaned!r} already exists",
            code="workspace_exists",
            details={"field": "name"},
        )
    before = {"name": workspace.name}
    workspace.name = cleaned
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="workspace.rename",
        target=f"workspace:{workspace_id}",
        workspace_id=workspace_id,
        before=before,
        after={"name": cleaned},
    )
    return workspace


async def delete(session: AsyncSession, workspace_id: uuid.UUID, *, actor: str) -> set[uuid.UUID]:
    """Delete a workspace and everything it owns; returns its key ids (to drop from caches).

    The audit entries stay (they have no foreign key), so the deletion itself is on record.
    """
    workspace = await get(session, workspace_id)
    key_ids = set(
        await session.scalars(sa.select(ApiKey.id).where(ApiKey.workspace_id == workspace_id))
    )
    await audit.record(
        session,
        actor=actor,
        action="workspace.delete",
        target=f"workspace:{workspace_id}",
        workspace_id=workspace_id,
        before={"name": workspace.name},
    )
    # The database cascades to everything the workspace owns (SQLite has foreign keys on too).
    await session.execute(sa.delete(Workspace).where(Workspace.id == workspace_id))
    session.expunge(workspace)
    return key_ids


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotCredentials:
    """What the service needs to act in a workspace's Rocket.Chat as its bot user."""

    base_url: str
    user_id: str
    token: str

    def __repr__(self) -> str:
        return f"BotCredentials(base_url={self.base_url!r}, user_id={self.user_id!r}, token=***)"


async def settings_row(session: AsyncSession, workspace_id: uuid.UUID) -> WorkspaceSettings:
    """The workspace's settings, created with defaults the first time they are needed."""
    row = await session.get(WorkspaceSettings, workspace_id)
    if row is None:
        row = WorkspaceSettings(workspace_id=workspace_id, message_retention_days=30)
        session.add(row)
        await session.flush()
    return row


def settings_view(row: WorkspaceSettings) -> dict[str, Any]:
    """What an admin may read: secrets only as whether they are set."""
    return {
        "rocketchat_url": row.rocketchat_url,
        "rocketchat_bot_user_id": row.rocketchat_bot_user_id,
        "rocketchat_bot_token_set": row.rocketchat_bot_token is not None,
        "webhook_token_set": row.webhook_token_hash is not None,
        "default_quality_tier": row.default_quality_tier,
        "languages": list(row.languages) if row.languages is not None else None,
        "message_retention_days": row.message_retention_days,
        "updated_at": row.updated_at,
    }


def _audit_view(row: WorkspaceSettings) -> dict[str, Any]:
    view = settings_view(row)
    view.pop("updated_at")
    view["rocketchat_bot_token"] = view.pop("rocketchat_bot_token_set")
    view["webhook_token"] = view.pop("webhook_token_set")
    return view


_UNSET: Any = object()


@dataclass(kw_only=True)
class SettingsChange:
    """Fields to change; `_UNSET` leaves a field as it is, None clears it."""

    rocketchat_url: Any = _UNSET
    rocketchat_bot_user_id: Any = _UNSET
    rocketchat_bot_token: Any = _UNSET
    default_quality_tier: Any = _UNSET
    languages: Any = _UNSET
    message_retention_days: Any = _UNSET


def unset() -> Any:
    return _UNSET


def _validated(change: SettingsChange, policy: OutboundPolicy) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if change.rocketchat_url is not _UNSET:
        values["rocketchat_url"] = _check_url(change.rocketchat_url, policy)
    if change.rocketchat_bot_user_id is not _UNSET:
        values["rocketchat_bot_user_id"] = _check_text(
            change.rocketchat_bot_user_id, "rocketchat_bot_user_id", 64
        )
    if change.rocketchat_bot_token is not _UNSET:
        values["rocketchat_bot_token"] = _check_text(
            change.rocketchat_bot_token, "rocketchat_bot_token", 512
        )
    if change.default_quality_tier is not _UNSET:
        tier = change.default_quality_tier
        if tier is not None and tier not in QUALITY_TIERS:
            raise ValidationFailed(
                f"default_quality_tier: must be one of {', '.join(QUALITY_TIERS)}",
                details={"field": "default_quality_tier", "value": tier},
            )
        values["default_quality_tier"] = tier
    if change.languages is not _UNSET:
        codes = change.languages
        if codes is not None:
            if not isinstance(codes, list) or len(codes) > 100:
                raise ValidationFailed(
                    "languages: give a list of at most 100 language codes",
                    details={"field": "languages"},
                )
            codes = list(
                dict.fromkeys(
                    languages.require(code, f"languages[{i}]") for i, code in enumerate(codes)
                )
            )
        values["languages"] = codes
    if change.message_retention_days is not _UNSET:
        days = change.message_retention_days
        if (
            not isinstance(days, int)
            or isinstance(days, bool)
            or not 0 <= days <= MAX_RETENTION_DAYS
        ):
            raise ValidationFailed(
                f"message_retention_days: a whole number from 0 to {MAX_RETENTION_DAYS}",
                details={"field": "message_retention_days", "max": MAX_RETENTION_DAYS},
            )
        values["message_retention_days"] = days
    return values


def _check_url(value: Any, policy: OutboundPolicy) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(
            "rocketchat_url: give the server's http(s) URL, e.g. https://chat.example.com",
            details={"field": "rocketchat_url"},
        )
    return policy.check_url(value, "rocketchat_url")


def _check_text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(
            f"{field}: give 1 to {limit} characters", details={"field": field, "max": limit}
        )
    return value.strip()


async def update_settings(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    change: SettingsChange,
    *,
    actor: str,
    keyring: Keyring,
    policy: OutboundPolicy | None = None,
) -> WorkspaceSettings:
    values = _validated(change, policy or OutboundPolicy())
    row = await settings_row(session, workspace_id)
    if (
        "rocketchat_url" in values
        and values["rocketchat_url"] != row.rocketchat_url
        and row.rocketchat_bot_token is not None
        and "rocketchat_bot_token" not in values
    ):
        # The stored bot token is never sent to a new address unless it is given again.
        raise ValidationFailed(
            "rocketchat_bot_token: give the bot token again (or null) to change rocketchat_url",
            code="rocketchat_bot_token_required",
            details={"field": "rocketchat_bot_token"},
        )
    before = _audit_view(row)
    for name, value in values.items():
        if name == "rocketchat_bot_token":
            row.rocketchat_bot_token = (
                None if value is None else seal_bot_token(keyring, workspace_id, value)
            )
        else:
            setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    await session.flush()
    after = _audit_view(row)
    changed = {k for k in after if after[k] != before[k]}
    if "rocketchat_bot_token" in values and values["rocketchat_bot_token"] is not None:
        # A new token replacing an old one is a change even though both show as "set".
        changed.add("rocketchat_bot_token")
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="workspace.settings.update",
            target=f"workspace:{workspace_id}",
            workspace_id=workspace_id,
            before={k: before[k] for k in sorted(changed)},
            after={k: after[k] for k in sorted(changed)},
        )
    return row


def webhook_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_webhook_token(
    session: AsyncSession, workspace_id: uuid.UUID, *, actor: str
) -> str:
    """A new outgoing-webhook token (returned once); only its digest is stored."""
    token = secrets.token_urlsafe(32)
    row = await settings_row(session, workspace_id)
    had = row.webhook_token_hash is not None
    row.webhook_token_hash = webhook_digest(token)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="workspace.webhook_token.rotate",
        target=f"workspace:{workspace_id}",
        workspace_id=workspace_id,
        before={"webhook_token": had},
        after={"webhook_token": True},
    )
    return token


async def check_webhook_token(session: AsyncSession, workspace_id: uuid.UUID, token: str) -> bool:
    """Constant-time comparison of a presented webhook token with the stored digest."""
    stored = await session.scalar(
        sa.select(WorkspaceSettings.webhook_token_hash).where(
            WorkspaceSettings.workspace_id == workspace_id
        )
    )
    if not stored or not token:
        return False
    return hmac.compare_digest(stored, webhook_digest(token))


async def bot_credentials(
    session: AsyncSession, workspace_id: uuid.UUID, keyring: Keyring
) -> BotCredentials | None:
    """The bot's Rocket.Chat credentials, or None until URL, user id and token are all set."""
    row = await session.get(WorkspaceSettings, workspace_id)
    if row is None or not row.rocketchat_url:
        return None
    if not row.rocketchat_bot_user_id or row.rocketchat_bot_token is None:
        return None
    return BotCredentials(
        base_url=row.rocketchat_url,
        user_id=row.rocketchat_bot_user_id,
        token=open_bot_token(keyring, workspace_id, row.rocketchat_bot_token),
    )


# -- the bot token at rest --------------------------------------------------------------------
#
# Sealed with the service keyring (service/accounts/crypto.py: AES-256-GCM, key id in the blob),
# bound to the workspace so a sealed token copied onto another workspace's row does not open.


def bot_token_context(workspace_id: uuid.UUID) -> bytes:
    return b"workspace_settings.rocketchat_bot_token\x00" + workspace_id.bytes


def seal_bot_token(keyring: Keyring, workspace_id: uuid.UUID, token: str) -> bytes:
    return keyring.seal_text(token, bot_token_context(workspace_id))


def open_bot_token(keyring: Keyring, workspace_id: uuid.UUID, sealed: bytes) -> str:
    return keyring.open_text(sealed, bot_token_context(workspace_id))


async def rotate_bot_tokens(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring
) -> tuple[int, list[str]]:
    """Re-seal every bot token not sealed with the current key; (re-sealed, failures)."""
    rotated, failed = 0, []
    async with sessions.begin() as session:
        rows = await session.execute(
            sa.select(WorkspaceSettings.workspace_id, WorkspaceSettings.rocketchat_bot_token)
            .where(WorkspaceSettings.rocketchat_bot_token.is_not(None))
            .with_for_update()
        )
        for workspace_id, sealed in rows:
            assert sealed is not None
            try:
                if key_id_in(sealed) == keyring.current_id:
                    continue
                plain = open_bot_token(keyring, workspace_id, sealed)
            except CryptoError as exc:
                failed.append(f"{workspace_id}: {exc}")
                continue
            await session.execute(
                sa.update(WorkspaceSettings)
                .where(WorkspaceSettings.workspace_id == workspace_id)
                .values(rocketchat_bot_token=seal_bot_token(keyring, workspace_id, plain))
            )
            rotated += 1
    return rotated, failed
