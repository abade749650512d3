"""Per-workspace retention purges (`workspace_id = ? AND created_at < ?` on the translation
memory and the bot's delivery records) get a composite index each.

Expand only: the previous release runs on this schema unchanged. The translation memory's
single-column workspace index becomes redundant (the composite begins with workspace_id); it is
dropped by a later release, once no release that could be rolled back to predates this one.

Revision ID: 0007_retention_indexes
Revises: 0006_ledger_index
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_retention_indexes"
down_revision: str | None = "0006_ledger_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_translation_memory_workspace_created": "translation_memory",
    "ix_chat_deliveries_workspace_created": "chat_deliveries",
}


def upgrade() -> None:
    # On PostgreSQL, CONCURRENTLY builds the index without blocking the service's writes; it
    # cannot run inside a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        for name, table in INDEXES.items():
            op.create_index(
                name,
                table,
                ["workspace_id", "created_at"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table in INDEXES.items():
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
