"""Rollback across a migration: the release before the newest migration, taken from git, starts
on the database the current code migrated to head, translates, and leaves the schema alone."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from service.db.migrate import alembic_config, database_revisions, upgrade
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
KEY = "previous-release-" + "k" * 24

pytestmark = [pytest.mark.postgres, pytest.mark.apertium]


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def previous_release() -> tuple[str, str]:
    """(commit, newest migration): the commit before the one that added the newest migration
    (HEAD itself while that migration is not committed yet)."""
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: the previous release is read from the git history")
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    path = Path(script.get_revision(head).path).relative_to(ROOT).as_posix()
    added = _git("log", "-1", "--format=%H", "--diff-filter=A", "--", path).stdout.strip()
    if not added:
        return _git("rev-parse", "HEAD").stdout.strip(), head
    parent = _git("rev-parse", "--verify", "--quiet", f"{added}^{{commit}}~1")
    if parent.returncode != 0:
        shallow = _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
        if shallow:
            pytest.skip(
                "shallow clone: the commit before the newest migration is not in it "
                "(clone with full history, e.g. actions/checkout fetch-depth: 0)"
            )
        pytest.fail(f"{added} (which adds {path}) has no parent commit")
    return parent.stdout.strip(), head


def _extract(commit: str, into: Path) -> None:
    archive = into / "release.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "service"],
            stdout=out,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _serve_and_translate(release: Path, env: dict[str, str], port: int, commit: str) -> str:
    """Start the release's `utp serve`, translate once through its API, stop it."""
    # The previous release's own code: its package shadows this checkout's editable install.
    code = (
        "import service, service.cli; print('running', service.__file__, flush=True); "
        "service.cli.main()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve"],
        cwd=release,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while "Application startup complete" not in "".join(lines[-1:]):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail(f"release {commit[:12]} exited:\n" + "".join(lines))
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        assert f"running {release / 'service' / '__init__.py'}" in lines[0]
        reply = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/translate",
            headers={"X-API-Key": KEY},
            json={"text": "Good morning, how is the project going?", "target_lang": "es"},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["translated_text"])
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_previous_release_starts_on_the_migrated_schema_and_translates(
    postgres_url: str, tmp_path: Path
) -> None:
    commit, head = previous_release()
    release = tmp_path / "release"
    release.mkdir()
    _extract(commit, release)
    await asyncio.to_thread(upgrade, postgres_url)  # the current code: schema at head
    assert await database_revisions(postgres_url) == {head}

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTP_")}
    env.update(
        PYTHONPATH=str(release),
        UTP_DATABASE_URL=postgres_url,
        UTP_DATA_DIR=str(tmp_path / "data"),
        UTP_PORT=str(port),
        UTP_BOOTSTRAP_API_KEY=KEY,
    )
    translated = await asyncio.to_thread(_serve_and_translate, release, env, port, commit)
    assert "proyecto" in translated.lower()
    # The older release never downgrades the schema it found.
    assert await database_revisions(postgres_url) == {head}
