"""Session-wide real PostgreSQL and Redis on free loopback ports, isolated per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis

from tests.servers import PostgresServer, RedisServer, Replicated, postgres_bin


def _unavailable(what: str) -> None:
    # In CI a missing server is a broken setup, not a reason to skip.
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI but is not installed")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        _unavailable("PostgreSQL")
    with PostgresServer.running() as server:
        yield server


@pytest.fixture
def replicated() -> Iterator[Replicated]:
    """A primary and a hot standby streaming from it, for one test (promotion is for good):
    their own clusters, stopped and removed afterwards."""
    if postgres_bin() is None:
        _unavailable("PostgreSQL")
    with PostgresServer.running() as primary, primary.standby() as standby:
        yield Replicated(primary, standby)


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres_server.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield postgres_server.url(name)
    conn = await asyncpg.connect(postgres_server.dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    import shutil

    if shutil.which("redis-server") is None:
        _unavailable("redis-server")
    with RedisServer.running() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied before the test."""
    if redis_server.process is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
