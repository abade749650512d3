"""The `utp` command as an operator uses it, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port

UTP = [sys.executable, "-m", "service.cli"]
needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None and not os.environ.get("CI"), reason="Apertium not installed"
)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTP_")}
    env.update({"UTP_DATA_DIR": str(tmp_path), **extra})
    return env


def utp(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UTP, *args], env=env_for(tmp_path, **extra), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """`utp serve` on a free port; yields its base URL and the lines it printed at start-up."""
    port = free_port()
    process = subprocess.Popen(
        [*UTP, "serve"],
        env=env_for(tmp_path, UTP_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail("utp serve exited:\n" + "".join(lines))
            lines.append(line)
            if "Application startup complete" in line:
                break
        else:
            pytest.fail("utp serve did not start:\n" + "".join(lines))
        yield base, lines
    finally:
        process.terminate()
        process.wait(timeout=20)


@needs_apertium
def test_make_run_flow_prints_a_key_and_a_curl_that_translates(
    server: tuple[str, list[str]],
) -> None:
    base, lines = server
    output = "".join(lines)
    key = re.search(r"utp_[a-z0-9]{12}_[A-Za-z0-9_-]+", output)
    assert key is not None, output
    curl = output[output.index("curl -s") :].split("\n\n")[0]
    assert key.group(0) in curl

    first = json.loads(
        subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True).stdout
    )
    assert first["provider"] == "apertium"
    assert first["source_lang"] == "en" and first["target_lang"] == "es"
    assert first["cached"] is False
    assert "proyecto" in first["translated_text"].lower()
    assert "*" not in first["translated_text"]

    second = json.loads(
        subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True).stdout
    )
    assert second["cached"] is True
    assert second["translated_text"] == first["translated_text"]

    ready = httpx.get(base + "/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["providers"]["enabled"] == ["apertium"]

    # Issue 22: the pairs `make run` installs serve at least 15 languages offline.
    listed = httpx.get(base + "/api/v1/languages", headers={"X-API-Key": key.group(0)})
    offline = {
        item["code"] for item in listed.json()["languages"] if "apertium" in item["providers"]
    }
    assert len(offline) >= 15, offline
    assert {"gl", "it", "ro", "eu", "oc", "an", "ast", "sv", "da", "nb", "nn"} <= offline


def test_bootstrap_key_is_seeded_and_not_printed(tmp_path: Path) -> None:
    port = free_port()
    seeded = "automation-key-" + "x" * 20
    process = subprocess.Popen(
        [*UTP, "serve"],
        env=env_for(
            tmp_path, UTP_PORT=str(port), UTP_BOOTSTRAP_API_KEY=seeded, UTP_APERTIUM_ENABLED="false"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while "Application startup complete" not in "".join(lines[-1:]):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        assert "(from UTP_BOOTSTRAP_API_KEY)" in printed
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/languages", headers={"X-API-Key": seeded}
        )
        assert response.status_code == 200
        denied = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/languages", headers={"X-API-Key": "nope"}
        )
        assert denied.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_db_upgrade_and_workspace_creation(tmp_path: Path) -> None:
    upgraded = utp(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "is at heads" in upgraded.stdout
    created = utp(tmp_path, "workspaces", "create", "acme")
    assert created.returncode == 0, created.stderr
    assert re.search(r"admin API key \(shown only once\): utp_[a-z0-9]{12}_\S+", created.stdout)
    again = utp(tmp_path, "workspaces", "create", "acme")
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_production_refuses_insecure_settings_naming_the_variable(tmp_path: Path) -> None:
    result = utp(tmp_path, "db", "upgrade", UTP_ENVIRONMENT="production")
    assert result.returncode != 0
    assert "UTP_SECRET_KEY" in result.stderr
    result = utp(tmp_path, "db", "upgrade", UTP_ENVIRONMENT="production", UTP_SECRET_KEY="s" * 40)
    assert result.returncode != 0
    assert "UTP_DATABASE_URL" in result.stderr
    bad = utp(tmp_path, "db", "upgrade", UTP_PORT="eighty")
    assert bad.returncode != 0
    assert "UTP_PORT" in bad.stderr


@needs_apertium
def test_translate_command_uses_the_engine(tmp_path: Path) -> None:
    result = utp(tmp_path, "translate", "--to", "es", "--json", "Good morning, my friend")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["provider"] == "apertium" and body["source_lang"] == "en"
    assert "amigo" in body["translated_text"].lower()
    pivot = utp(tmp_path, "translate", "--from", "fr", "--to", "en", "--json", "Bonjour mes amis")
    assert pivot.returncode == 0, pivot.stderr
    assert json.loads(pivot.stdout)["pivot"] == ["fr", "es", "en"]
    unknown = utp(tmp_path, "translate", "--to", "xx", "hello")
    assert unknown.returncode != 0 and "unknown language code" in unknown.stderr


def test_idle_keep_alive_connections_last_as_configured(tmp_path: Path) -> None:
    """`UTP_KEEPALIVE_SECONDS` reaches the server: an idle connection is closed after it (and
    not after uvicorn's own 5 s, which races the proxies in front)."""
    import socket

    port = free_port()
    process = subprocess.Popen(
        [*UTP, "serve"],
        env=env_for(tmp_path, UTP_PORT=str(port), UTP_KEEPALIVE_SECONDS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    request = f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "utp serve did not start"
                time.sleep(0.2)
        with conn:
            conn.sendall(request)
            assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)  # well within the keep-alive: the connection serves another request
            conn.sendall(request)
            assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(2.5)  # past it: the server has closed the connection
            assert conn.recv(65536) == b""
    finally:
        process.terminate()
        process.wait(timeout=20)


def _response(conn: Any) -> bytes:
    """One whole HTTP/1.1 response (headers, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_serve_leaves_migrating_to_the_job_when_told(tmp_path: Path) -> None:
    """UTP_MIGRATE_ON_START=false (the clusters): `utp serve` does not touch the schema, and
    on a database nobody migrated it says what to run instead of failing on a missing table."""
    refused = utp(tmp_path, "serve", "--port", str(free_port()), UTP_MIGRATE_ON_START="false")
    assert refused.returncode != 0
    assert "run `utp db upgrade` first" in refused.stderr
    assert not (tmp_path / "utp.db").exists() or "alembic_version" not in _tables(tmp_path)


def _tables(data_dir: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(data_dir / "utp.db") as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
