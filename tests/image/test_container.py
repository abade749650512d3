"""The service image run for real, as production runs it: `make image-test` builds it and sets
UTP_TEST_IMAGE; without that (plain `make test`) these tests are skipped.

The container starts with a read-only root filesystem, a tmpfs /tmp, a volume for /var/lib/utp,
UID 10001 and no capabilities, against the session's real PostgreSQL and Redis (host network:
the private engine runs without a bridge).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.servers import PostgresServer, RedisServer, free_port

IMAGE = os.environ.get("UTP_TEST_IMAGE", "")
# The image's budget, written down in docs/compose.md: Debian + Python, the service's wheels,
# Apertium with the 18 pairs of the offline engine (17 languages), pg_dump and Redis. Measured
# 674 MB on the slim stand-in base (Debian's postgresql-client) before the 4 MB word-frequency
# table; it was 624 MB with four pairs, and the 14 pairs issue 22 added install 94 MB. The
# budget stays 760 MB: raise it only with a reason in the commit.
SIZE_BUDGET_MB = 760

pytestmark = pytest.mark.skipif(not IMAGE, reason="run by `make image-test` (builds the image)")


def docker(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


@dataclass(frozen=True)
class Running:
    name: str
    base_url: str
    api_key: str


async def _create_database(server: PostgresServer, name: str) -> None:
    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def container(postgres_server: PostgresServer, redis_server: RedisServer) -> Iterator[Running]:
    database = f"image_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(postgres_server, database))
    name = f"utp-image-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    api_key = "utp_" + secrets.token_urlsafe(32)
    env = {
        "UTP_ENVIRONMENT": "production",
        "UTP_PORT": str(port),
        "UTP_HEALTH_CHECK_URL": f"http://127.0.0.1:{port}",
        "UTP_SECRET_KEY": secrets.token_urlsafe(48),
        "UTP_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "UTP_BOOTSTRAP_API_KEY": api_key,
        "UTP_DATABASE_URL": postgres_server.url(database),
        "UTP_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
    }
    run = ["run", "-d", "--name", name, "--network", "host", "--read-only"]
    run += ["--tmpfs", "/tmp:rw,nosuid,nodev,size=256m", "-v", f"{name}:/var/lib/utp"]
    run += ["--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    # The image's own HEALTHCHECK command, checked more often than its 30 s for the test.
    run += ["--health-interval", "2s", "--health-start-period", "60s"]
    for key, value in env.items():
        run += ["-e", f"{key}={value}"]
    base_url = f"http://127.0.0.1:{port}"
    try:
        docker(*run, IMAGE)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            state = docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            if state != "true" or time.monotonic() > deadline:
                pytest.fail(f"the container did not start:\n{docker('logs', name).stderr}")
            time.sleep(1)
        yield Running(name=name, base_url=base_url, api_key=api_key)
    finally:
        docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", name, check=False)


def utp(container: Running, *args: str) -> subprocess.CompletedProcess[str]:
    return docker("exec", container.name, "utp", *args, check=False, timeout=180)


def test_runs_as_10001_read_only_without_capabilities(container: Running) -> None:
    assert docker("exec", container.name, "id", "-u").stdout.strip() == "10001"
    status = docker("exec", container.name, "cat", "/proc/1/status").stdout
    caps = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if "Cap" in line}
    assert caps["CapEff"] == caps["CapPrm"] == "0000000000000000"
    wrote = docker("exec", container.name, "touch", "/opt/utp/x", check=False)
    assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr
    # The volume and /tmp are the writable places.
    assert docker("exec", container.name, "touch", "/var/lib/utp/x", "/tmp/x").returncode == 0


def test_health_endpoints_report_database_and_redis(container: Running) -> None:
    assert httpx.get(f"{container.base_url}/health/live", timeout=5).status_code == 200
    ready = httpx.get(f"{container.base_url}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert "apertium" in body["checks"]["providers"]["enabled"]


def test_translates_with_apertium_through_the_api(container: Running) -> None:
    response = httpx.post(
        f"{container.base_url}/api/v1/translate",
        headers={"X-API-Key": container.api_key},
        json={"text": "Good morning, how is the project going?", "target_lang": "es"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "apertium" and body["model"] == "eng-spa"
    assert body["translated_text"].startswith("Buenos días")


def test_translates_offline_through_a_pivot(container: Running) -> None:
    """The image carries every pair of the offline engine: Galician to Italian goes through
    Spanish (apertium-es-gl, apertium-spa-ita), as on a `make run` machine."""
    response = httpx.post(
        f"{container.base_url}/api/v1/translate",
        headers={"X-API-Key": container.api_key},
        json={"text": "Bos días, como vai o proxecto?", "source_lang": "gl", "target_lang": "it"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "apertium"
    assert body["pivot"] == ["gl", "es", "it"]


def test_health_check_command_inside_reports_json(container: Running) -> None:
    result = utp(container, "health-check", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert report["url"] == container.base_url


def test_database_backup_inside_then_restore_verifies(container: Running) -> None:
    backup = utp(container, "backup", "--type", "database")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    backup_id = backup.stdout.strip().splitlines()[-1]
    restored = utp(container, "restore", backup_id, "--verify-only")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"{backup_id} verified" in restored.stdout


def test_image_healthcheck_turns_healthy(container: Running) -> None:
    deadline = time.monotonic() + 90
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container.name).stdout.strip()
        if status == "healthy":
            break
        time.sleep(2)
    assert status == "healthy"


def test_image_size_within_budget() -> None:
    size = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout)
    print(f"image {IMAGE}: {size / 1e6:.0f} MB (budget {SIZE_BUDGET_MB} MB)")
    assert size / 1e6 <= SIZE_BUDGET_MB
