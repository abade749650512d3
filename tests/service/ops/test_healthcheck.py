"""`utp health-check` against the real service (uvicorn, PostgreSQL, Redis, Apertium)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from ops_common.healthcheck import CheckOptions, run_check
from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.cli import main
from service.db.migrate import upgrade
from service.db.session import create_engine, session_factory
from service.settings import (
    CacheSettings,
    DatabaseSettings,
    OpsSettings,
    Secret,
    ServerSettings,
    Settings,
)
from tests.servers import PostgresServer, RedisServer, free_port
from tests.service.scripted import FixedDetector

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.apertium,
    pytest.mark.skipif(
        shutil.which("apertium") is None and not os.environ.get("CI"),
        reason="Apertium not installed",
    ),
]

API_KEY = "utp_healthcheck0_" + "k" * 43


@dataclass
class Running:
    url: str
    env: dict[str, str]


@pytest.fixture
async def service(tmp_path: Path, postgres_url: str, redis_url: str) -> AsyncIterator[Running]:
    settings = Settings(
        server=ServerSettings(environment="test", data_dir=tmp_path, release="v9.9.9"),
        database=DatabaseSettings(database_url=postgres_url),
        cache=CacheSettings(redis_url=Secret(redis_url), redis_retry_seconds=0.1),
    )
    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_engine(postgres_url)
    await ensure_default_workspace(session_factory(engine), API_KEY)
    await engine.dispose()
    port = free_port()
    # Real providers (Apertium); a fixed detector spares loading the language models.
    app = create_app(settings, Overrides(detector=FixedDetector("en")))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "service did not start"
        await asyncio.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTP_")}
    env.update(UTP_HEALTH_CHECK_URL=url, UTP_HEALTH_CHECK_API_KEY=API_KEY)
    try:
        yield Running(url, env)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


def _check(running: Running, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["health-check", "--timeout", "3", *args], env=running.env)
    return result.exit_code, result.stdout


async def test_healthy_service_in_text_json_and_prometheus(service: Running) -> None:
    code, text = await asyncio.to_thread(_check, service, "--verbose")
    assert code == 0, text
    assert text.startswith("UTP health: OK (exit 0)")
    for component in ("live", "ready", "database", "redis", "providers", "provider:apertium"):
        assert f"  {component} " in text
    assert "translation" in text and "apertium" in text

    code, raw = await asyncio.to_thread(_check, service, "--format", "json")
    assert code == 0
    body = json.loads(raw)
    assert body["status"] == "ok" and body["exit_code"] == 0
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["database"]["role"] == "primary"
    assert body["components"]["translation"]["provider"] == "apertium"
    assert body["components"]["backup"]["status"] == "skipped"
    assert all("duration_ms" in c for c in body["components"].values())

    code, exposition = await asyncio.to_thread(_check, service, "--format", "prometheus")
    assert code == 0
    samples = {
        (s.name, s.labels.get("component", "")): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }
    assert samples[("utp_health_status", "")] == 0
    assert samples[("utp_health_component_up", "redis")] == 1
    assert ("utp_health_check_duration_seconds", "translation") in samples


async def test_expected_release(service: Running) -> None:
    code, text = await asyncio.to_thread(_check, service, "--expect-release", "v9.9.9")
    assert code == 0, text
    # Another release answering (a rollout in progress) is not yet healthy.
    code, text = await asyncio.to_thread(_check, service, "--expect-release", "v1.0.0", "--verbose")
    assert code == 1, text
    assert "serving v9.9.9, not v1.0.0" in text


async def test_redis_stopped_is_degraded(service: Running, redis_server: RedisServer) -> None:
    redis_server.stop()
    try:
        code, raw = await asyncio.to_thread(_check, service, "--format", "json")
    finally:
        redis_server.start()
    body = json.loads(raw)
    assert code == 1, raw
    assert body["status"] == "degraded"
    assert body["components"]["redis"]["status"] == "degraded"
    assert body["components"]["translation"]["status"] == "ok"


async def test_database_stopped_is_down(service: Running, postgres_server: PostgresServer) -> None:
    await asyncio.to_thread(postgres_server.stop)
    try:
        code, text = await asyncio.to_thread(_check, service)
    finally:
        await asyncio.to_thread(postgres_server.start)
    assert code == 2, text
    assert text.startswith("UTP health: DOWN (exit 2)")
    assert "database" in text and "down" in text


def test_unreachable_service_is_down_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    report = run_check(url, CheckOptions(timeout=0.5, retries=2))
    assert report.exit_code == 2
    live = report.component("live")
    assert live is not None and live.status == "down" and "ConnectError" in live.detail
    assert time.monotonic() - started >= 0.25 + 0.5  # two back-offs: it did retry


def test_stale_backup_degrades() -> None:
    """The backup component alone (service unreachable is not the point here)."""
    old = datetime.now(UTC) - timedelta(hours=30)
    report = run_check(
        f"http://127.0.0.1:{free_port()}",
        CheckOptions(timeout=0.2, retries=0, newest_backup=lambda: old),
    )
    backup = report.component("backup")
    assert backup is not None and backup.status == "degraded"
    assert "30.0 h old" in backup.detail and "limit 26.0 h" in backup.detail
    assert report.backup_completed_at == old


def test_settings_defaults_point_at_the_local_service() -> None:
    assert OpsSettings().health_check_url == "http://127.0.0.1:8000"
