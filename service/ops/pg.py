"""PostgreSQL for backups: connection facts from a URL (password via env, never argv), tools."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from service.settings import normalize_database_url

USER_TABLES = r"""
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2
"""


class PgError(RuntimeError):
    """A PostgreSQL tool or query failed; the message says which and why (no secrets)."""


@dataclass(frozen=True)
class PgTarget:
    host: str
    port: int
    user: str
    database: str
    sslmode: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        normalized = normalize_database_url(url)
        if not normalized.startswith("postgresql"):
            raise PgError(
                "database backups and restores need PostgreSQL; the embedded SQLite database "
                "is part of the files backup (--type files)"
            )
        parsed = make_url(normalized)
        query = {k: (v if isinstance(v, str) else v[0]) for k, v in parsed.query.items()}
        return cls(
            host=parsed.host or "localhost",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            database=parsed.database or "postgres",
            sslmode=query.get("sslmode") or query.get("ssl") or "",
            password=parsed.password or "",
        )

    def with_database(self, name: str) -> PgTarget:
        return replace(self, database=name)

    @property
    def safe(self) -> str:
        """The URL without its password, for messages and logs."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def url(self) -> str:
        """An asyncpg URL with the password (for settings; never print it)."""
        return (
            make_url(f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.database}")
            .set(password=self.password or None)
            .render_as_string(hide_password=False)
        )

    def env(self) -> dict[str, str]:
        """libpq environment: the password travels here, never on a command line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(
            PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGDATABASE=self.database
        )
        if self.password:
            env["PGPASSWORD"] = self.password
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
            # The CA bundle verify-ca/verify-full check the server against (the pod's RDS
            # bundle); without it libpq looks in ~/.postgresql and refuses to connect.
            if os.environ.get("PGSSLROOTCERT"):
                env["PGSSLROOTCERT"] = os.environ["PGSSLROOTCERT"]
        env["PGCONNECT_TIMEOUT"] = "10"
        return env

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "database": database or self.database,
            "timeout": 10,
        }
        if self.password:
            kwargs["password"] = self.password
        if self.sslmode:
            kwargs["ssl"] = self.sslmode
        try:
            return await asyncpg.connect(**kwargs)
        except (OSError, asyncpg.PostgresError) as exc:
            where = self.with_database(kwargs["database"]).safe
            raise PgError(f"cannot connect to {where}: {exc}") from None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows per user table (`schema.table`), read from the catalog: no hard-coded table list."""
    counts: dict[str, int] = {}
    for row in await conn.fetch(USER_TABLES):
        qualified = f"{quote_ident(row['schema'])}.{quote_ident(row['name'])}"
        counts[f"{row['schema']}.{row['name']}"] = int(
            await conn.fetchval(f"SELECT count(*) FROM {qualified}")  # noqa: S608 - catalog names
        )
    return counts


async def schema_revision(conn: asyncpg.Connection) -> str:
    exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not exists:
        return ""
    return str(await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1") or "")


def tool(name: str) -> str:
    """The newest installed pg_dump/pg_restore: a dump tool must not be older than the server."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(re.sub(r"\D", "", p.split("/")[3]) or 0),
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found is None:
        raise PgError(f"{name} not found: install the PostgreSQL client (postgresql-client-16)")
    return found


def tool_version(path: str) -> str:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def run_tool(args: list[str], target: PgTarget, *, what: str) -> None:
    done = subprocess.run(args, env=target.env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PgError(
            f"{what} failed ({Path(args[0]).name} exit {done.returncode}): {_tail(done.stderr)}"
        )


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "no output"
