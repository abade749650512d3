"""SQLAlchemy models; the schema is identical on SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps with time zone, always returned aware in UTC (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}  # noqa: RUF012


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A workspace credential. Only a SHA-256 digest of the secret part is stored."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    # Public, unique lookup handle embedded in the key: utp_<prefix>_<secret>.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space separated
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class TranslationMemory(Base):
    """Durable tier of the translation cache, keyed by the engine's content-addressed key."""

    __tablename__ = "translation_memory"

    cache_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Whose text this is: its retention follows that workspace's setting (migration 0005).
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), default=None, index=True
    )
    source_lang: Mapped[str] = mapped_column(sa.String(16))
    target_lang: Mapped[str] = mapped_column(sa.String(16))
    provider: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str | None] = mapped_column(sa.String(100))
    translated_text: Mapped[str] = mapped_column(sa.Text)
    # Cached serialised result (pivot path, characters, tokens, cost) for faithful replay.
    meta: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # Per-workspace retention purges (migration 0007).
    __table_args__ = (
        sa.Index("ix_translation_memory_workspace_created", "workspace_id", "created_at"),
    )


class UsageEvent(Base):
    """One translation request (cache hits too). `id` is the event id: inserts are idempotent."""

    __tablename__ = "usage_events"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    # No index of its own: the composite indexes below begin with it (migration 0006).
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, default=None)
    user_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    channel_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    provider: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    model: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    source_lang: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    target_lang: Mapped[str] = mapped_column(sa.String(16))
    characters: Mapped[int] = mapped_column(default=0)
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cost: Mapped[Decimal] = mapped_column(sa.Numeric(14, 8), default=Decimal(0))
    latency_ms: Mapped[float] = mapped_column(sa.Float, default=0.0)
    cache_hit: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_usage_events_workspace_created", "workspace_id", "created_at"),)


# -- Multi-tenant settings and identities (migration 0002) ------------------------------------


class WorkspaceSettings(Base):
    """Per-workspace configuration an admin controls; one row per workspace, created lazily."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # Rocket.Chat server of this workspace and the bot the service acts as there.
    rocketchat_url: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    rocketchat_bot_user_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    rocketchat_bot_token: Mapped[bytes | None] = mapped_column(sa.LargeBinary, default=None)
    # SHA-256 of the outgoing-webhook token Rocket.Chat sends.
    webhook_token_hash: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    default_quality_tier: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    # None: every provider the server has; otherwise the names, in preference order.
    enabled_providers: Mapped[list[str] | None] = mapped_column(sa.JSON, default=None)
    # Whether providers the workspace has no key of its own for use the server's (migration
    # 0003_glossary); the keyless offline engine is not affected.
    use_server_providers: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Languages the workspace uses: narrows language detection.
    languages: Mapped[list[str] | None] = mapped_column(sa.JSON, default=None)
    message_retention_days: Mapped[int] = mapped_column(default=30)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Base):
    """A Rocket.Chat user of a workspace, known by their Rocket.Chat id."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(sa.String(64))
    username: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    # The language set in the user's Rocket.Chat profile, and the one they last wrote in.
    rocketchat_language: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    recent_language: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (sa.UniqueConstraint("workspace_id", "external_id"),)


class UserPreferences(Base):
    __tablename__ = "user_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    target_lang: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    quality_tier: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    show_original: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelSettings(Base):
    __tablename__ = "channel_settings"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    allowed_langs: Mapped[list[str] | None] = mapped_column(sa.JSON, default=None)
    blocked_langs: Mapped[list[str] | None] = mapped_column(sa.JSON, default=None)
    max_cost_per_message: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 8), default=None)
    glossary_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, default=None)
    formality: Mapped[str | None] = mapped_column(sa.String(8), default=None)
    context_enabled: Mapped[bool] = mapped_column(default=True)
    # "thread": one reply in the message's thread; "attachment": the original message updated.
    delivery_mode: Mapped[str] = mapped_column(sa.String(16), default="thread")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProviderCredential(Base):
    """A workspace's own key for a provider, encrypted with AES-256-GCM (see accounts/crypto)."""

    __tablename__ = "provider_credentials"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    secret: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Which encryption key sealed `secret`, so rotation can find rows still on an old key.
    key_id: Mapped[str] = mapped_column(sa.String(64))
    base_url: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    model: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Glossary(Base):
    """Term pairs per language pair and do-not-translate terms, for a workspace or one channel."""

    __tablename__ = "glossaries"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Bumped on every edit; part of the cache key, so edits invalidate old translations.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GlossaryEntry(Base):
    __tablename__ = "glossary_entries"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    glossary_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("glossaries.id", ondelete="CASCADE"), index=True
    )
    source_lang: Mapped[str] = mapped_column(sa.String(16))
    # None with target_term None: a do-not-translate term, whatever the target.
    target_lang: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    source_term: Mapped[str] = mapped_column(sa.String(500))
    target_term: Mapped[str | None] = mapped_column(sa.String(500), default=None)


class AuditEntry(Base):
    """Append-only record of configuration changes; secrets are masked before they get here."""

    __tablename__ = "audit_log"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, default=None)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    request_id: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_audit_log_workspace_created", "workspace_id", "created_at"),)


class RevokedToken(Base):
    """Denylist of revoked JWT ids, kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- Usage: budgets, reservations, daily rollups, erasures (migration 0003_usage) -------------
# Money in these tables is integer nano-dollars (1e-9 USD): exact sums and exact conditional
# updates on PostgreSQL and SQLite alike (SQLite would do NUMERIC arithmetic in floating point).

# Upper bounds (ms) of the latency histogram kept in `usage_daily`; the last bucket is open.
LATENCY_BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class Budget(Base):
    """A monthly spending limit for a workspace, or one channel or user of it."""

    __tablename__ = "budgets"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(sa.String(16))  # workspace | channel | user
    subject: Mapped[str] = mapped_column(sa.String(64), default="")  # '' for the workspace
    limit_nanos: Mapped[int] = mapped_column(sa.BigInteger)
    soft_limit_ratio: Mapped[float] = mapped_column(sa.Float, default=0.8)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("workspace_id", "scope", "subject"),)


class BudgetPeriod(Base):
    """Spend of one budget in one calendar month (UTC): settled plus held for calls in flight."""

    __tablename__ = "budget_periods"

    budget_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    spent_nanos: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reserved_nanos: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class BudgetReservation(Base):
    """An estimate held for one provider call; settled (deleted) when the call ends."""

    __tablename__ = "budget_reservations"

    hold_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    budget_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[date] = mapped_column(sa.Date)
    amount_nanos: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UsageDaily(Base):
    """Usage events summed per UTC day and dimension; maintained with each outbox flush.

    '' stands for "none" in the key columns (they are part of the primary key).
    """

    __tablename__ = "usage_daily"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    source_lang: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    target_lang: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    cache_hits: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    same_language: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    errors: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    characters: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    cost_nanos: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # lat_i counts requests slower than LATENCY_BUCKETS_MS[i - 1] and no slower than
    # LATENCY_BUCKETS_MS[i]; lat_11 the rest. Plain columns, so an upsert can add to them.
    lat_0: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_1: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_2: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_3: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_4: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_5: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_6: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_7: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_8: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_9: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_10: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lat_11: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.Index("ix_usage_daily_workspace_day", "workspace_id", "day"),)


class UserErasure(Base):
    """A user erased on request: events still in an outbox arrive anonymised.

    Only a keyed digest of (workspace, user id) is kept, never the id itself.
    """

    __tablename__ = "user_erasures"

    subject_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatDelivery(Base):
    """Where the webhook bot delivered the translation of one Rocket.Chat message.

    An edit of the message replaces that delivery instead of adding another. No message text is
    kept: only ids and a digest of the text the bot wrote (to recognise its own edit events).
    """

    __tablename__ = "chat_deliveries"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    room_id: Mapped[str] = mapped_column(sa.String(64))
    mode: Mapped[str] = mapped_column(sa.String(16))  # thread | attachment
    reply_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    written_digest: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Per-workspace retention purges (migration 0007).
    __table_args__ = (
        sa.Index("ix_chat_deliveries_workspace_created", "workspace_id", "created_at"),
    )


class ConsoleSession(Base):
    """A signed-in web console (service/console/): the cookie's digest, never the cookie.

    Server-side so that signing out (deleting the row) ends it at once. A session made with an
    API key ends with that key (revoked, expired or deleted); one made with a Rocket.Chat
    login carries that token's id and ends no later than the token would have.
    """

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("api_keys.id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    token_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    role: Mapped[str] = mapped_column(sa.String(32))
    scopes: Mapped[str] = mapped_column(sa.String(200))  # space separated
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# Analytics by user and the privacy export look a user's events up within a workspace.
sa.Index("ix_usage_events_workspace_user", UsageEvent.workspace_id, UsageEvent.user_id)
