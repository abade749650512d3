"""Fixtures of the security tests: the usage tests' app starter (uvicorn in the test's loop,
SQLite or the session's real PostgreSQL), production settings, and an "internal service" on
loopback that records every request it gets (what an SSRF would reach)."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiohttp import web

from service.settings import Secret, ServerSettings, Settings
from tests.service.accounts.conftest import _rocketchat_server, env, rocketchat
from tests.service.chat.conftest import _chat_server, chat, detector, rc
from tests.service.conftest import sqlite_settings
from tests.service.usage.conftest import make_settings, start

__all__ = [
    "Internal",
    "_chat_server",
    "_rocketchat_server",
    "chat",
    "detector",
    "env",
    "internal",
    "production_settings",
    "rc",
    "rocketchat",
    "sqlite_settings",
    "start",
]

BANNER = "internal-admin-console build 7f3a secret-banner"


@dataclass
class Internal:
    url: str
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def internal() -> AsyncIterator[Internal]:
    """A loopback service that answers every request 400 with a banner a caller must never see."""
    runner: web.AppRunner | None = None
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        return web.json_response({"success": False, "error": BANNER}, status=400)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Internal(url=f"http://127.0.0.1:{port}", port=port, hits=seen)
    finally:
        await runner.cleanup()


def production_settings(tmp_path: Path, postgres_url: str, **security: object) -> Settings:
    base = make_settings(tmp_path, postgres_url)
    return replace(
        base,
        server=replace(ServerSettings(), environment="production", data_dir=tmp_path),
        security=replace(
            base.security,
            secret_key=Secret("s" * 48),
            encryption_key=Secret(base64.b64encode(os.urandom(32)).decode()),
            **security,
        ),
    )
