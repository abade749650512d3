"""Alembic, driven from code: `utp serve`, `utp db upgrade` and the test suite call `upgrade(url)`.

Releases follow expand/contract (docs/operations.md#migrations): a release must run on the
schema of the release after it, so that a rollback needs no schema change. A database whose
revision this release does not know was migrated by a newer release; `upgrade` then leaves it
exactly as it is. Nothing here ever downgrades on its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock every migration run holds (migrations/env.py): b"utp-migr".
MIGRATION_LOCK_ID = int.from_bytes(b"utp-migr", "big") & 0x7FFF_FFFF_FFFF_FFFF
LOCK_POLL_SECONDS = 0.2  # how often a run waiting for that lock asks again


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on '%' in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> str | None:
    """Migrate the database at `url` (async driver URL) to `revision`.

    Returns None when it migrated (or had nothing to do), or the reason it left a database
    that a newer release migrated untouched.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    unknown = sorted(h for h in asyncio.run(database_revisions(url)) if not _known(script, h))
    if unknown:
        return (
            f"the database schema is at {', '.join(unknown)}, which this release does not know "
            f"(its newest migration is {script.get_current_head()}): a newer release migrated "
            "it. Running on it unchanged, as expand/contract migrations allow; it is never "
            "downgraded automatically (docs/operations.md#migrations)"
        )
    command.upgrade(config, revision)
    return None


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def database_revisions(url: str) -> set[str]:
    """The revisions recorded in the database's `alembic_version` (empty when unmigrated)."""
    from service.db.session import create_engine

    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
