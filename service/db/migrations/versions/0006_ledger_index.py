"""Drop the ledger's single-column workspace index: (workspace_id, created_at) and
(workspace_id, user_id) both begin with workspace_id and serve every lookup it did, while each
index is one more B-tree insert for every usage event.

Revision ID: 0006_ledger_index
Revises: 0005_retention
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_ledger_index"
down_revision: str | None = "0005_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_usage_events_workspace_id"), table_name="usage_events")


def downgrade() -> None:
    op.create_index(op.f("ix_usage_events_workspace_id"), "usage_events", ["workspace_id"])
