"""The webhook bot's deliveries (message id -> its translation reply); merges the two 0003 heads.

Revision ID: 0004_chat
Revises: 0003_glossary, 0003_usage
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.db.models import UTCDateTime

revision: str = "0004_chat"
down_revision: str | Sequence[str] | None = ("0003_glossary", "0003_usage")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_deliveries",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reply_id", sa.String(length=64), nullable=True),
        sa.Column("written_digest", sa.String(length=64), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_chat_deliveries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "message_id", name=op.f("pk_chat_deliveries")),
    )
    op.create_index(
        op.f("ix_chat_deliveries_created_at"), "chat_deliveries", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_deliveries_created_at"), table_name="chat_deliveries")
    op.drop_table("chat_deliveries")
