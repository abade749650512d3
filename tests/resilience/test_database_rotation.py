"""The database password rotated under a running service: it keeps serving once the mounted
credentials file is rewritten, and says clearly (without the secret) when it is not.

What the platform does, on a real PostgreSQL: the role's password changes (`ALTER ROLE`, as
`pulumi up` does to the RDS master password), the file `UTP_DATABASE_URL_FILE` names is
rewritten (what the kubelet does once External Secrets has synced `utp-env`), and every session
of the role is terminated, so that each request needs a new connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from service.observability.logging import JsonFormatter
from service.settings import Settings
from tests.resilience.conftest import Service, Stream, repeats, serve, settings_for
from tests.servers import PostgresServer
from tests.service.scripted import ScriptedProvider

pytestmark = pytest.mark.postgres


@dataclass
class Rotating:
    """A database owned by a role that logs in with a password, and the URL file of it."""

    server: PostgresServer
    role: str
    database: str
    file: Path
    passwords: list[str]

    def url(self, password: str) -> str:
        # quote(): the ExternalSecret renders the password with `urlquote` too.
        return (
            f"postgresql+asyncpg://{self.role}:{quote(password, safe='')}"
            f"@127.0.0.1:{self.server.port}/{self.database}"
        )

    def write_file(self, password: str) -> None:
        """Replace the file in one step, as the kubelet swaps a Secret volume's contents."""
        staged = self.file.with_suffix(".new")
        staged.write_text(self.url(password) + "\n")
        os.replace(staged, self.file)

    async def rotate(self) -> str:
        """A new password for the role; the old one stops working at once."""
        password = "n3w/p@ss " + secrets.token_urlsafe(12)
        self.passwords.append(password)
        await self._admin(f"ALTER ROLE {self.role} PASSWORD '{password}'")
        return password

    async def terminate_sessions(self) -> int:
        """Kill every session of the role: the pool must open new connections."""
        conn = await asyncpg.connect(self.server.dsn())
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
                self.role,
            )
        finally:
            await conn.close()
        return int(killed)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.server.dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def settings(self, data_dir: Path) -> Settings:
        """Settings as `UTP_DATABASE_URL_FILE` gives them (a verified key cache of 0: every
        request reads its API key from the database)."""
        base = settings_for(data_dir, database_url=self.url(self.passwords[0]))
        env = {"UTP_DATABASE_URL_FILE": str(self.file)}
        from_file = Settings.from_env(env).database
        assert from_file.database_url == self.url(self.passwords[0])
        return replace(
            base,
            database=from_file,
            security=replace(base.security, api_key_cache_seconds=0.0),
        )


@pytest.fixture
async def rotating(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Rotating]:
    role = f"rot_{uuid.uuid4().hex[:10]}"
    database = postgres_url.rsplit("/", 1)[1]
    first = "f1rst/p@ss " + secrets.token_urlsafe(12)
    conn = await asyncpg.connect(postgres_server.dsn())
    try:
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{first}'")
        await conn.execute(f'ALTER DATABASE "{database}" OWNER TO {role}')
    finally:
        await conn.close()
    postgres_server.require_password(role)
    state = Rotating(postgres_server, role, database, tmp_path / "database_url", [first])
    state.write_file(first)
    await _refused_with(state, "not-the-password")  # the password is really checked
    yield state
    await state.terminate_sessions()
    conn = await asyncpg.connect(postgres_server.dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f"DROP ROLE {role}")
    finally:
        await conn.close()


async def _refused_with(state: Rotating, password: str) -> None:
    """Wait for the reloaded pg_hba.conf: a wrong password is refused."""
    for _ in range(100):
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1",
                port=state.server.port,
                user=state.role,
                password=password,
                database=state.database,
            )
        except asyncpg.InvalidPasswordError:
            return
        await conn.close()
        await asyncio.sleep(0.05)
    raise AssertionError("PostgreSQL still lets the role in without its password")


async def _touch_database(service: Service) -> list[httpx.Response]:
    """Requests that fail without the database: readiness and a read of the workspace's data."""
    return [
        await service.client.get("/health/ready"),
        await service.client.get("/api/v1/glossaries", headers=service.headers),
    ]


async def test_rotation_with_the_file_rewritten_keeps_serving(
    rotating: Rotating, data_dir: Path
) -> None:
    provider = ScriptedProvider("scripted", pairs=None)
    async with serve(rotating.settings(data_dir), [provider]) as service:
        stream = Stream(service, repeats(), workers=4)
        stream.start()
        answers: list[httpx.Response] = []
        try:
            await stream.until(20)
            answers += await _touch_database(service)
            new = await rotating.rotate()
            rotating.write_file(new)
            assert await rotating.terminate_sessions() > 0
            await stream.until(20)
            for _ in range(5):
                answers += await _touch_database(service)
                assert await rotating.terminate_sessions() >= 0
            await stream.until(20)
        finally:
            results = await stream.stop()

    assert stream.errors == []
    assert [(r.status, r.body) for r in results if r.status != 200] == []
    assert [(a.request.url.path, a.status_code) for a in answers if a.status_code != 200] == []
    assert all(a.json()["checks"]["database"]["status"] == "ok" for a in answers[::2])


async def test_old_password_is_a_clear_error_without_the_secret_then_recovers(
    rotating: Rotating, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = ScriptedProvider("scripted", pairs=None)
    async with serve(rotating.settings(data_dir), [provider]) as service:
        assert [r.status_code for r in await _touch_database(service)] == [200, 200]
        new = await rotating.rotate()
        await rotating.terminate_sessions()

        with caplog.at_level(logging.INFO):
            ready, listing = await _touch_database(service)
        # Refused, not hidden: readiness takes the pod out of the load balancer.
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["status"] == "down"
        assert listing.status_code >= 500
        refusals = [r for r in caplog.records if r.name == "service.db.credentials"]
        assert refusals, "the refusal is not logged"
        message = refusals[0].getMessage()
        assert rotating.role in message and "28P01" in message
        assert str(rotating.file) in message and "re-reads that file" in message

        lines = "\n".join(JsonFormatter().format(r) for r in caplog.records)
        for password in rotating.passwords:
            assert password not in lines and quote(password, safe="") not in lines

        rotating.write_file(new)
        assert [r.status_code for r in await _touch_database(service)] == [200, 200]


async def test_an_unreadable_file_falls_back_to_the_start_up_credentials(
    rotating: Rotating, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(rotating.settings(data_dir), [ScriptedProvider("s", pairs=None)]) as service:
        rotating.file.unlink()
        await rotating.terminate_sessions()
        with caplog.at_level(logging.WARNING):
            assert [r.status_code for r in await _touch_database(service)] == [200, 200]
        (warning, *_) = [r for r in caplog.records if r.name == "service.db.credentials"]
        assert "read at start-up" in warning.getMessage()
        assert str(rotating.file) in warning.getMessage()


async def test_a_refused_url_from_the_environment_says_it_is_read_once(
    rotating: Rotating, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from service.db.credentials import refused_credentials
    from service.db.session import create_engine

    wrong = "wr0ng/p@ss " + secrets.token_urlsafe(8)
    engine = create_engine(rotating.url(wrong))
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(DBAPIError) as refused:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
    finally:
        await engine.dispose()
    assert refused_credentials(refused.value)
    (record,) = [r for r in caplog.records if r.name == "service.db.credentials"]
    assert "from UTP_DATABASE_URL" in record.getMessage()
    assert "read once at start-up" in record.getMessage()
    assert wrong not in JsonFormatter().format(record)
