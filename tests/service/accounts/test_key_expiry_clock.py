"""API key expiry follows the app's clock (Overrides.clock), not the machine's calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.testing import AsyncTestClient

from service.accounts.keys import ensure_default_workspace
from service.app import Overrides, create_app
from service.clock import FrozenClock
from service.db.session import create_engine, session_factory
from service.settings import Settings
from tests.service.scripted import FixedDetector, ScriptedProvider

from .conftest import error_code

# Far from the day the suite runs: a key judged by the system clock shows at once.
CREATED = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_key_expires_at_the_instant_set_by_the_apps_clock(
    sqlite_settings: Settings,
) -> None:
    engine = create_engine(sqlite_settings.database_url)
    issued = await ensure_default_workspace(session_factory(engine), None)
    await engine.dispose()
    assert issued is not None
    admin = {"X-API-Key": issued.key}
    clock = FrozenClock(CREATED)
    app = create_app(
        sqlite_settings,
        Overrides(
            providers=[ScriptedProvider("scripted", pairs=None)],
            detector=FixedDetector("en"),
            clock=clock,
        ),
    )
    async with AsyncTestClient(app) as client:
        created = await client.post(
            "/api/v1/workspaces/current/keys",
            json={"name": "one day", "scopes": ["translate"], "expires_in_days": 1},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["api_key"]["id"]
        expires = CREATED + timedelta(days=1)
        assert datetime.fromisoformat(created.json()["api_key"]["expires_at"]) == expires

        async def translate() -> int:
            response = await client.post(
                "/api/v1/translate",
                json={"text": "Hello", "target_lang": "es"},
                headers={"X-API-Key": key},
            )
            if response.status_code == 401:
                assert error_code(response) == "api_key_expired"
            return response.status_code

        async def status() -> str:
            listed = await client.get("/api/v1/workspaces/current/keys", headers=admin)
            return {k["id"]: k["status"] for k in listed.json()["api_keys"]}[key_id]

        clock.set(expires - timedelta(seconds=1))
        assert await translate() == 200
        assert await status() == "active"
        # The key was verified a second ago and is remembered; expiry still wins at once.
        clock.set(expires)
        assert await translate() == 401
        assert await status() == "expired"

        revoked = await client.delete(f"/api/v1/workspaces/current/keys/{key_id}", headers=admin)
        assert revoked.status_code == 200, revoked.text
        assert datetime.fromisoformat(revoked.json()["revoked_at"]) == expires
