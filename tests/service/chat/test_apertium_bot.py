"""The webhook bot end to end with the real Apertium engine (no scripted provider)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from service.settings import ProviderSettings, Settings
from service.translation.providers.apertium import ApertiumProvider
from tests.service.conftest import start_api
from tests.service.scripted import FixedDetector

from .conftest import Chat, chat_settings, configure
from .fake_chat import ChatFake

MODES_DIR = ProviderSettings().apertium_modes_dir
pytestmark = [
    pytest.mark.apertium,
    pytest.mark.skipif(
        not (shutil.which("lt-proc") and (MODES_DIR / "eng-spa.mode").exists()),
        reason="Apertium with the eng-spa pair is not installed (make test installs it)",
    ),
]


async def test_an_english_message_reaches_a_spanish_reader_in_spanish(
    sqlite_settings: Settings, rc: ChatFake
) -> None:
    rc.rooms["GENERAL"].members -= {"Carla00001"}
    provider: Any = ApertiumProvider(ProviderSettings(apertium_pool_size=1))
    async for api in start_api(chat_settings(sqlite_settings), provider, FixedDetector("en")):
        chat = Chat(api=api, rc=rc, token=await configure(api, rc))
        payload = rc.say("GENERAL", "Alice00001", "The cat is black. Ping @carla00001")
        await chat.hook(payload)
        [reply] = chat.replies()
        [attachment] = reply["attachments"]
        assert attachment["title"] == "🌍 Spanish"
        assert "gato" in attachment["text"].lower() and "@carla00001" in attachment["text"]
        assert reply["tmid"] == payload["message_id"]
