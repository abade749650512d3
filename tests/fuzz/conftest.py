"""A live service (uvicorn in a background thread, free loopback port) for schemathesis."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from service.accounts import workspaces
from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.clock import FrozenClock
from service.db.migrate import upgrade
from service.db.session import create_engine, session_factory
from service.settings import DatabaseSettings, LimitSettings, ServerSettings, Settings
from tests.servers import free_port
from tests.service.scripted import FixedDetector, ScriptedProvider

# The service's calendar (usage days, budget months): one date, so the fuzz test knows it.
TODAY = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class LiveService:
    url: str
    key: str
    # An admin key of a second workspace, for the provider configuration's operations: the
    # URLs fuzzing stores there (random hosts) would otherwise make later translations of
    # the main workspace fail upstream, for a reason no schema can state.
    config_key: str
    limits: LimitSettings

    def key_for(self, path: str) -> str:
        return self.config_key if path.startswith("/api/v1/providers") else self.key


async def _bootstrap(settings: Settings) -> tuple[str, str]:
    """The default workspace's admin key, and a second workspace's."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        issued = await ensure_default_workspace(sessions, None)
        async with sessions.begin() as session:
            other = await workspaces.create(session, "fuzzed configuration", actor="fuzz")
    finally:
        await engine.dispose()
    assert issued is not None
    return issued.key, other.key


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        server=ServerSettings(environment="test", data_dir=data_dir),
        database=DatabaseSettings(database_url=f"sqlite+aiosqlite:///{data_dir / 'utp.db'}"),
        # Small limits: the schema states whichever are set, and requests just over them are
        # quick to generate and to refuse (the defaults' 10,000 characters are not).
        limits=LimitSettings(
            max_text_chars=300,
            max_batch_items=5,
            max_target_langs=3,
            max_context_messages=3,
            max_context_chars=200,
        ),
    )
    upgrade(settings.database_url)
    key, config_key = asyncio.run(_bootstrap(settings))
    app = create_app(
        settings,
        Overrides(
            providers=[ScriptedProvider("scripted", pairs=None)],
            detector=FixedDetector(),
            clock=FrozenClock(TODAY),
        ),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        yield LiveService(url=url, key=key, config_key=config_key, limits=settings.limits)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@functools.cache
def operations() -> list[tuple[str, bool]]:
    """`METHOD /path` of every operation and whether it takes any input (parameters or a
    body), from the app's schema (building the app opens nothing)."""
    import tempfile

    settings = Settings(server=ServerSettings(data_dir=Path(tempfile.gettempdir())))
    spec = create_app(settings).openapi_schema.to_schema()
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    return [
        (f"{method.upper()} {path}", bool(op.get("parameters") or op.get("requestBody")))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in methods
    ]
