"""The webhook bot in the DR region before promotion, on a real PostgreSQL streaming replica:
messages are still translated and posted; the notes it would write are skipped; a command that
changes settings answers with the read-only message instead of failing silently."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from service.app import Overrides, create_app
from service.container import services_of
from service.db.migrate import upgrade
from service.db.models import ChatDelivery
from service.settings import DatabaseSettings, ServerSettings, Settings
from tests.servers import Replicated
from tests.service.conftest import Api, start_api
from tests.service.scripted import FixedDetector, ScriptedProvider

from .conftest import Chat, chat_settings, configure
from .fake_chat import ChatFake

pytestmark = pytest.mark.postgres


def _settings(data_dir: Path, url: str) -> Settings:
    return chat_settings(
        Settings(
            server=ServerSettings(environment="test", data_dir=data_dir),
            database=DatabaseSettings(database_url=url),
        )
    )


async def test_the_bot_translates_on_a_replica_and_says_settings_wait_for_promotion(
    replicated: Replicated, rc: ChatFake, detector: FixedDetector, tmp_path: Path
) -> None:
    # The workspace was configured in the primary region, before it was lost.
    primary_url = replicated.primary.url()
    await asyncio.to_thread(upgrade, primary_url)
    provider = ScriptedProvider("scripted", pairs=None)
    setup = start_api(_settings(tmp_path / "primary", primary_url), provider, detector)
    primary_api = await anext(setup)
    token = await configure(primary_api, rc)
    await setup.aclose()
    await replicated.caught_up()

    settings = _settings(tmp_path / "dr", replicated.standby.url())
    app = create_app(settings, Overrides(providers=[provider], detector=detector))
    async with AsyncTestClient(app) as client:
        chat = Chat(Api(client, primary_api.key, provider, settings), rc, token)
        assert services_of(client.app).database_role.role == "replica"

        payload = rc.say("GENERAL", "Alice00001", "Hello from the other region")
        response = await chat.hook(payload)
        assert response.status_code == 200

        [reply] = chat.replies()
        assert reply["tmid"] == payload["message_id"]
        assert [a["text"] for a in reply["attachments"]] == [
            "[fr] Hello from the other region",
            "[es] Hello from the other region",
        ]
        # Which reply carries the translation is not recorded on a replica.
        assert await chat.rows(sa.select(ChatDelivery)) == []

        lang = rc.say("GENERAL", "Dave000001", "!lang de", trigger_word="!lang")
        assert (await chat.hook(lang)).status_code == 200
        [answer] = [
            b["text"] for b in rc.posted("chat.postMessage") if b.get("channel") == "@dave000001"
        ]
        assert answer.startswith("⚠️ Changing settings is not possible now")
        assert "read-only replica" in answer
        # The answer is private: in the room there is still only the translation.
        assert [m["_id"] for m in chat.replies() if m["rid"] == "GENERAL"] == [reply["_id"]]
