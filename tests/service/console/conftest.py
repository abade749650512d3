"""The console's browser tests: the service under uvicorn on loopback (real PostgreSQL and
Redis), Debian's chromium driven by Playwright, a fresh profile per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.clock import FrozenClock
from tests.conftest import _unavailable
from tests.service.accounts.conftest import _rocketchat_server, rocketchat
from tests.service.usage.conftest import App, Starter, make_settings, start

__all__ = ["_rocketchat_server", "browser", "console", "rocketchat", "start"]

CHROMIUM = os.environ.get("UTP_CHROMIUM", "/usr/bin/chromium")
# What the issue asks Chromium to be started with: nothing reaches out, nothing is kept.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
# Mid-month, so that "this month so far" holds two weeks of usage; the app reads this clock.
NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


@dataclass
class Console:
    app: App
    clock: FrozenClock

    @property
    def url(self) -> str:
        return str(self.app.client.base_url).rstrip("/")


@pytest.fixture
async def console(start: Starter, tmp_path: Path, postgres_url: str, redis_url: str) -> Console:
    clock = FrozenClock(NOW)
    app = await start(make_settings(tmp_path, postgres_url, redis_url), clock=clock)
    return Console(app, clock)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    """A browser context with a fresh profile (the persistent context's user-data-dir)."""
    if not _installed(CHROMIUM):
        _unavailable(f"chromium ({CHROMIUM})")
    from playwright.async_api import async_playwright

    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            await context.close()


def _installed(program: str) -> bool:
    return Path(program).exists() or shutil.which(program) is not None


def artifact_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $UTP_TEST_ARTIFACTS when CI collects them, else the test's tmp."""
    root = Path(os.environ.get("UTP_TEST_ARTIFACTS") or tmp_path / "artifacts")
    root.mkdir(parents=True, exist_ok=True)
    return root
