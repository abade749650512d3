"""The async engine and session factory, created from settings inside the app's lifespan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from service.db import credentials


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, credentials_file: Path | None = None
) -> AsyncEngine:
    """`credentials_file`: the file `url` was read from; each new PostgreSQL connection takes its
    user name and password from it again, so a rotated password needs no restart."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # WAL lets readers work while the usage writer commits; FKs are off by default.
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # A dead database must fail fast: translation goes on and usage waits in the buffer.
        pool_timeout=5,
        connect_args={"timeout": 5, "command_timeout": 10},
    )
    credentials.install(engine, credentials_file)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_of(dialect: str) -> Any:
    """The dialect's INSERT construct (both have ON CONFLICT), by dialect name."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_for(session: AsyncSession) -> Any:
    """The INSERT construct of the database `session` talks to."""
    return insert_of(session.get_bind().dialect.name)
