"""Usage: budgets, their monthly periods and reservations, daily rollups, user erasures.

Revision ID: 0003_usage
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.db.models import UTCDateTime

revision: str = "0003_usage"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LATENCY_COLUMNS = 12


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def _budget_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["budget_id"],
        ["budgets.id"],
        name=op.f(f"fk_{table}_budget_id_budgets"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("limit_nanos", sa.BigInteger(), nullable=False),
        sa.Column("soft_limit_ratio", sa.Float(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _workspace_fk("budgets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint(
            "workspace_id", "scope", "subject", name=op.f("uq_budgets_workspace_id")
        ),
    )
    op.create_index(op.f("ix_budgets_workspace_id"), "budgets", ["workspace_id"], unique=False)
    op.create_table(
        "budget_periods",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("spent_nanos", sa.BigInteger(), nullable=False),
        sa.Column("reserved_nanos", sa.BigInteger(), nullable=False),
        _budget_fk("budget_periods"),
        sa.PrimaryKeyConstraint("budget_id", "period", name=op.f("pk_budget_periods")),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("amount_nanos", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _budget_fk("budget_reservations"),
        sa.PrimaryKeyConstraint("hold_id", "budget_id", name=op.f("pk_budget_reservations")),
    )
    op.create_index(
        op.f("ix_budget_reservations_created_at"),
        "budget_reservations",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "usage_daily",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("source_lang", sa.String(length=16), nullable=False),
        sa.Column("target_lang", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("cache_hits", sa.BigInteger(), nullable=False),
        sa.Column("same_language", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("characters", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        *(sa.Column(f"lat_{i}", sa.BigInteger(), nullable=False) for i in range(_LATENCY_COLUMNS)),
        _workspace_fk("usage_daily"),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "day",
            "user_id",
            "channel_id",
            "provider",
            "source_lang",
            "target_lang",
            name=op.f("pk_usage_daily"),
        ),
    )
    op.create_index(
        "ix_usage_daily_workspace_day", "usage_daily", ["workspace_id", "day"], unique=False
    )
    op.create_table(
        "user_erasures",
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        _workspace_fk("user_erasures"),
        sa.PrimaryKeyConstraint("subject_hash", name=op.f("pk_user_erasures")),
    )
    op.create_index(
        op.f("ix_user_erasures_workspace_id"), "user_erasures", ["workspace_id"], unique=False
    )
    # Analytics by user and the privacy export look events up by user within a workspace.
    op.create_index(
        "ix_usage_events_workspace_user", "usage_events", ["workspace_id", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_usage_events_workspace_user", table_name="usage_events")
    op.drop_index(op.f("ix_user_erasures_workspace_id"), table_name="user_erasures")
    op.drop_table("user_erasures")
    op.drop_index("ix_usage_daily_workspace_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index(op.f("ix_budget_reservations_created_at"), table_name="budget_reservations")
    op.drop_table("budget_reservations")
    op.drop_table("budget_periods")
    op.drop_index(op.f("ix_budgets_workspace_id"), table_name="budgets")
    op.drop_table("budgets")
