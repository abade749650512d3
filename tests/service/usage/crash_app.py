"""The service with a scripted provider, run as a separate process the tests can SIGKILL.

Usage: python -m tests.service.usage.crash_app PORT (settings from UTP_* variables).
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.db.session import create_engine, session_factory
from service.settings import Settings
from tests.service.scripted import FixedDetector, ScriptedProvider


async def _bootstrap(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await ensure_default_workspace(
            session_factory(engine), settings.security.bootstrap_api_key.get()
        )
    finally:
        await engine.dispose()


def main() -> None:
    settings = Settings.from_env()
    asyncio.run(_bootstrap(settings))
    app = create_app(
        settings,
        Overrides(providers=[ScriptedProvider("scripted", pairs=None)], detector=FixedDetector()),
    )
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
