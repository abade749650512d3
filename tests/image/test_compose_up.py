"""compose.yaml's local subset brought up for real: `make image-test` builds the service image and
PostgreSQL 15 / Redis images from Debian's packages (tests/compose/local/) and sets the
UTP_TEST_* variables; without them (plain `make test`) this is skipped.

The stack is compose.yaml itself plus tests/compose/local/compose.local.yaml (a faster health
check): `up -d --scale api=2 api` starts the migration, PostgreSQL, Redis and two API replicas on
compose.yaml's own networks (user-defined bridges: the private engine has no default bridge and
no iptables, but creates these), with secrets from files and utp.env as an operator writes them.
Each replica must turn healthy and translate offline through Apertium, by the v1 API and the
LibreTranslate-compatible route; `down -v` removes everything.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "tests" / "compose" / "local" / "compose.local.yaml"
IMAGE = os.environ.get("UTP_TEST_IMAGE", "")
POSTGRES_IMAGE = os.environ.get("UTP_TEST_POSTGRES_IMAGE", "")
REDIS_IMAGE = os.environ.get("UTP_TEST_REDIS_IMAGE", "")
PROJECT = "utpsmoke"
REPLICAS = 2

pytestmark = pytest.mark.skipif(
    not (IMAGE and POSTGRES_IMAGE and REDIS_IMAGE),
    reason="run by `make image-test` (builds the service, PostgreSQL and Redis images)",
)


def _compose_command() -> list[str]:
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    assert standalone, "Docker Compose is required (apt-get install docker-compose)"
    return [standalone]


def _docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


class Stack:
    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.env = {
            **os.environ,
            "UTP_IMAGE": IMAGE,
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            "REDIS_IMAGE": REDIS_IMAGE,
        }

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = [*_compose_command(), "-p", PROJECT, "--project-directory", str(self.project_dir)]
        command += ["-f", str(ROOT / "compose.yaml"), "-f", str(OVERRIDE), *args]
        return subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout, env=self.env
        )

    def api_containers(self) -> list[str]:
        out = _docker(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
            "--filter", "label=com.docker.compose.service=api",
        )  # fmt: skip
        return out.split()

    def logs(self) -> str:
        result = self.compose("logs", "--no-color", "--tail", "40", timeout=60)
        return result.stdout + result.stderr


def _write_project(project_dir: Path, api_key: str) -> None:
    """What docs/compose.md has an operator write next to compose.yaml."""
    password = secrets.token_urlsafe(24)
    secrets_dir = project_dir / "secrets"
    secrets_dir.mkdir()
    files = {
        "postgres_password": password,
        "utp_database_url": f"postgresql://utp:{password}@postgres:5432/utp",
        "utp_secret_key": secrets.token_urlsafe(48),
        "utp_encryption_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "grafana_admin_password": secrets.token_urlsafe(16),
    }
    for name, value in files.items():
        path = secrets_dir / name
        path.write_text(value + "\n")
        # Read inside the containers by UID 10001 and the postgres user (bind mounts keep modes).
        path.chmod(0o644)
    (project_dir / "utp.env").write_text(
        f"UTP_BOOTSTRAP_API_KEY={api_key}\nUTP_LOG_LEVEL=info\n"
        "UTP_HEALTH_CHECK_URL=http://127.0.0.1:8000\n"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    project_dir = tmp_path_factory.mktemp("compose-project")
    project_dir.chmod(0o755)
    api_key = "utp_" + secrets.token_urlsafe(32)
    _write_project(project_dir, api_key)
    stack = Stack(project_dir)
    try:
        up = stack.compose("up", "-d", "--no-build", "--scale", f"api={REPLICAS}", "api")
        assert up.returncode == 0, up.stdout + up.stderr + stack.logs()
        yield stack, api_key
    finally:
        down = stack.compose("down", "-v", "--remove-orphans", timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr


def _wait_healthy(stack: Stack) -> list[str]:
    """Each replica's address on the edge network, once the image's HEALTHCHECK says healthy."""
    deadline = time.monotonic() + 300
    while True:
        containers = stack.api_containers()
        states = {
            c: _docker("inspect", "-f", "{{.State.Health.Status}}", c).strip() for c in containers
        }
        if len(containers) == REPLICAS and set(states.values()) == {"healthy"}:
            break
        if time.monotonic() > deadline or "unhealthy" in states.values():
            pytest.fail(f"api replicas not healthy: {states}\n{stack.logs()}")
        time.sleep(3)
    # The edge network (compose.yaml names it utp_edge) is the one Traefik would reach them on.
    template = '{{(index .NetworkSettings.Networks "utp_edge").IPAddress}}'
    return [_docker("inspect", "-f", template, c).strip() for c in containers]


def test_local_subset_comes_up_and_translates_offline(stack: tuple[Stack, str]) -> None:
    running, api_key = stack
    addresses = _wait_healthy(running)
    assert len(set(addresses)) == REPLICAS
    for address in addresses:
        base_url = f"http://{address}:8000"
        ready = httpx.get(f"{base_url}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["database"]["status"] == "ok" and checks["redis"]["status"] == "ok"

        v1 = httpx.post(
            f"{base_url}/api/v1/translate",
            headers={"X-API-Key": api_key},
            json={"text": "Good morning, how is the project going?", "target_lang": "es"},
            timeout=60,
        )
        assert v1.status_code == 200, v1.text
        assert v1.json()["provider"] == "apertium"
        assert v1.json()["translated_text"].startswith("Buenos días")

        libre = httpx.post(
            f"{base_url}/libretranslate/translate",
            json={"q": "Good morning", "source": "en", "target": "es", "api_key": api_key},
            timeout=60,
        )
        assert libre.status_code == 200, libre.text
        assert libre.json()["translatedText"].startswith("Buenos días")
