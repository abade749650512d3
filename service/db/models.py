"""SQLAlchemy models; the schema is identical on SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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
    source_lang: Mapped[str] = mapped_column(sa.String(16))
    target_lang: Mapped[str] = mapped_column(sa.String(16))
    provider: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str | None] = mapped_column(sa.String(100))
    translated_text: Mapped[str] = mapped_column(sa.Text)
    # Cached serialised result (pivot path, characters, tokens, cost) for faithful replay.
    meta: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UsageEvent(Base):
    """One translation request (cache hits too). `id` is the event id: inserts are idempotent."""

    __tablename__ = "usage_events"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
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
