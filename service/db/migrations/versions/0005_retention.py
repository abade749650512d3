"""Translation memory rows belong to a workspace, so its retention setting applies to them.

Revision ID: 0005_retention
Revises: 0004_chat
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_retention"
down_revision: str | None = "0004_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite can only add a foreign key by copying the table.
    with op.batch_alter_table("translation_memory") as batch:
        batch.add_column(sa.Column("workspace_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_translation_memory_workspace_id"), ["workspace_id"])
        batch.create_foreign_key(
            batch.f("fk_translation_memory_workspace_id_workspaces"),
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("translation_memory") as batch:
        batch.drop_constraint(
            batch.f("fk_translation_memory_workspace_id_workspaces"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_translation_memory_workspace_id"))
        batch.drop_column("workspace_id")
