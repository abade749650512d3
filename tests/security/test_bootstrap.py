"""Issue 24, item 7: the bootstrap admin key is never printed when it came from
UTP_BOOTSTRAP_API_KEY, nor in production (output there goes to log collectors). The
development `make run` flow that prints a fresh key with a ready curl is covered by
tests/service/test_cli.py."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.service.test_cli import UTP, env_for


def _first_start(tmp_path: Path, **extra: str) -> str:
    process = subprocess.Popen(
        [*UTP, "serve"],
        env=env_for(tmp_path, UTP_PORT=str(free_port()), UTP_APERTIUM_ENABLED="false", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while "Application startup complete" not in "".join(lines[-1:]):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
    finally:
        process.terminate()
        process.wait(timeout=20)
    return "".join(lines)


def test_a_key_from_the_environment_is_never_printed(tmp_path: Path) -> None:
    seeded = "automation-key-" + "s3cr3t" * 6
    printed = _first_start(tmp_path, UTP_BOOTSTRAP_API_KEY=seeded)
    assert "Default workspace created" in printed
    assert seeded not in printed and "s3cr3t" not in printed
    assert "$UTP_BOOTSTRAP_API_KEY" in printed  # the curl still works, from the variable


@pytest.mark.postgres
def test_a_generated_key_is_not_printed_in_production(tmp_path: Path, postgres_url: str) -> None:
    printed = _first_start(
        tmp_path,
        UTP_ENVIRONMENT="production",
        UTP_DATABASE_URL=postgres_url,
        UTP_SECRET_KEY="p" * 48,
        UTP_ENCRYPTION_KEY=base64.b64encode(os.urandom(32)).decode(),
    )
    assert "Default workspace created" in printed
    assert re.search(r"utp_[a-z0-9]{12}_", printed) is None, printed
    assert "utp keys create --workspace default" in printed
