"""The outgoing-webhook bot against the loopback Rocket.Chat: what it posts back, and when not."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from service.db.models import ChatDelivery, UsageEvent, User

from .conftest import BOT, SPANISH, Chat

GLOBE = "🌍"


async def test_a_message_gets_one_thread_reply_with_one_attachment_per_language(
    chat: Chat,
) -> None:
    chat.rc.say("GENERAL", "Dave000001", "Lunch at noon?")
    payload = chat.rc.say("GENERAL", "Alice00001", "Hello everyone, how are you?")
    response = await chat.hook(payload)
    assert response.status_code == 200 and response.content == b""

    [reply] = chat.replies()
    assert reply["tmid"] == payload["message_id"] and reply["rid"] == "GENERAL"
    assert [a["title"] for a in reply["attachments"]] == [f"{GLOBE} French", f"{GLOBE} Spanish"]
    assert [a["text"] for a in reply["attachments"]] == [
        "[fr] Hello everyone, how are you?",
        "[es] Hello everyone, how are you?",
    ]
    # One engine call per language (nobody reads English translated), with the room as context.
    calls = chat.api.provider.calls
    assert sorted(c.target for c in calls) == ["es", "fr"]
    assert all(c.source == "en" for c in calls)
    assert all([m.text for m in c.context] == ["Lunch at noon?"] for c in calls)
    [sent] = chat.rc.posted("chat.sendMessage")
    assert sent["message"]["tmid"] == payload["message_id"]


async def test_readers_of_the_authors_language_get_nothing(chat: Chat) -> None:
    chat.rc.rooms["GENERAL"].members -= {"Bob0000001", "Carla00001"}
    response = await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Hello Dave"))
    assert response.status_code == 200
    assert chat.replies() == [] and chat.api.provider.calls == []
    assert chat.rc.posted("chat.sendMessage") == []


async def test_a_spanish_author_is_translated_for_english_and_french_readers(chat: Chat) -> None:
    await chat.hook(chat.rc.say("GENERAL", "Bob0000001", SPANISH))
    [reply] = chat.replies()
    assert [a["title"] for a in reply["attachments"]] == [f"{GLOBE} English", f"{GLOBE} French"]
    [(recent,)] = await chat.rows(
        sa.select(User.recent_language).where(User.external_id == "Bob0000001")
    )
    assert recent == "es"


async def test_no_loop_on_its_own_replies_nor_on_other_bots(chat: Chat) -> None:
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Good morning"))
    [reply] = chat.replies()
    calls = len(chat.rc.received)
    # Rocket.Chat calls the webhook for the bot's own reply too: nothing happens.
    own = chat.rc.payload(reply["_id"])
    assert (await chat.hook(own)).status_code == 200
    other_bot = chat.rc.say("GENERAL", "Dave000001", "Build #42 passed", bot={"i": "ci-hook"})
    assert (await chat.hook(other_bot)).status_code == 200
    assert len(chat.replies()) == 1
    assert len(chat.rc.received) == calls
    assert len(chat.api.provider.calls) == 2


async def test_a_thread_message_is_translated_inside_its_thread(chat: Chat) -> None:
    root = chat.rc.say("GENERAL", "Dave000001", "Who is coming tomorrow?")
    chat.rc.say("GENERAL", "Carla00001", "Moi", tmid=root["message_id"])
    answer = chat.rc.say("GENERAL", "Alice00001", "I am coming", tmid=root["message_id"])
    await chat.hook(answer)
    [reply] = chat.replies()
    assert reply["tmid"] == root["message_id"]
    # Context comes from the thread, not the room.
    assert all([m.text for m in c.context] == ["Moi"] for c in chat.api.provider.calls)


async def test_an_edit_replaces_the_earlier_translation(chat: Chat) -> None:
    payload = chat.rc.say("GENERAL", "Alice00001", "See you at 5")
    await chat.hook(payload)
    [first] = chat.replies()
    edited = chat.rc.edit(payload["message_id"], "See you at 6")
    assert edited["isEdited"] is True
    await chat.hook(edited)
    [second] = chat.replies()
    assert second["_id"] != first["_id"] and second["tmid"] == payload["message_id"]
    assert {a["text"] for a in second["attachments"]} == {"[es] See you at 6", "[fr] See you at 6"}
    assert chat.rc.posted("chat.delete") == [{"roomId": "GENERAL", "msgId": first["_id"]}]
    [(reply_id,)] = await chat.rows(sa.select(ChatDelivery.reply_id))
    assert reply_id == second["_id"]


async def test_a_repeated_webhook_call_does_not_post_twice(chat: Chat) -> None:
    payload = chat.rc.say("GENERAL", "Alice00001", "Deploy done")
    await asyncio.gather(chat.hook(payload), chat.hook(payload))
    assert len(chat.replies()) == 1


async def test_attachment_mode_updates_the_original_message(chat: Chat) -> None:
    chat.rc.editors.add(BOT)
    response = await chat.api.client.put(
        "/api/v1/channels/GENERAL", json={"delivery_mode": "attachment"}, headers=chat.api.headers
    )
    assert response.status_code == 200, response.text
    payload = chat.rc.say("GENERAL", "Alice00001", "Meeting moved\nto room 3")
    await chat.hook(payload)
    assert chat.replies() == []
    [update] = chat.rc.posted("chat.update")
    assert set(update) == {"roomId", "msgId", "text"} and update["msgId"] == payload["message_id"]
    original = chat.rc.messages[payload["message_id"]]
    assert original["msg"] == (
        "Meeting moved\nto room 3\n\n"
        f"> {GLOBE} *French*: [fr] Meeting moved\n> to room 3\n"
        f"> {GLOBE} *Spanish*: [es] Meeting moved\n> to room 3"
    )
    # Rocket.Chat reports the bot's update as an edit: recognised, not translated again.
    before = len(chat.api.provider.calls)
    await chat.hook(chat.rc.payload(payload["message_id"]))
    assert len(chat.rc.posted("chat.update")) == 1 and len(chat.api.provider.calls) == before
    # The author's own edit replaces the block.
    text = original["msg"].replace("room 3", "room 4", 1)
    await chat.hook(chat.rc.edit(payload["message_id"], text))
    assert chat.rc.messages[payload["message_id"]]["msg"].count(GLOBE) == 2
    assert "[es] Meeting moved\n> to room 4" in chat.rc.messages[payload["message_id"]]["msg"]


async def test_channel_switched_off_and_language_lists(chat: Chat) -> None:
    headers = chat.api.headers
    await chat.api.client.put("/api/v1/channels/GENERAL", json={"enabled": False}, headers=headers)
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Anyone there?"))
    assert chat.replies() == [] and chat.rc.received == []

    await chat.api.client.put(
        "/api/v1/channels/GENERAL",
        json={"enabled": True, "blocked_langs": ["fr"]},
        headers=headers,
    )
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Hello again"))
    [reply] = chat.replies()
    assert [a["title"] for a in reply["attachments"]] == [f"{GLOBE} Spanish"]


async def test_rate_limited_by_rocketchat_then_delivered_once(chat: Chat) -> None:
    chat.rc.send_faults.extend([("429", "0"), ("429", "0"), ("429", "0")])
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Release notes are out"))
    assert len(chat.rc.calls("chat.sendMessage")) == 4
    assert len(chat.replies()) == 1


async def test_a_lost_answer_is_not_posted_twice(chat: Chat) -> None:
    chat.rc.send_faults.append(("500-after-store", ""))
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Servers restarted"))
    assert len(chat.rc.calls("chat.sendMessage")) == 1
    assert len(chat.rc.calls("chat.getMessage")) == 1
    assert len(chat.replies()) == 1


async def test_usage_is_recorded_per_user_and_channel(chat: Chat) -> None:
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Quarterly numbers"))
    wanted = sa.select(UsageEvent.user_id, UsageEvent.channel_id, UsageEvent.target_lang)
    for _ in range(100):  # the outbox reaches the database within its flush interval
        rows = await chat.rows(wanted)
        if len(rows) >= 2:
            break
        await asyncio.sleep(0.05)
    assert set(rows) == {
        ("Alice00001", "GENERAL", "es"),
        ("Alice00001", "GENERAL", "fr"),
    }


async def test_max_cost_per_message_sends_the_rest_to_a_cheaper_engine(
    sqlite_settings,
    rc,
    detector,  # type: ignore[no-untyped-def]
) -> None:
    from decimal import Decimal

    from service.translation.providers.base import Tier
    from tests.service.chat.conftest import Chat, chat_settings, configure
    from tests.service.conftest import start_api
    from tests.service.scripted import ScriptedProvider

    paid = ScriptedProvider("paid", pairs=None)
    free = ScriptedProvider(
        "free", pairs=None, tier=Tier.ECONOMY, price_per_million_chars=Decimal(0)
    )
    async for api in start_api(
        chat_settings(sqlite_settings), paid, detector, more_providers=(free,)
    ):
        chat = Chat(api=api, rc=rc, token=await configure(api, rc))
        text = "Hello everyone, how are you?"  # 28 characters: USD 0.00056 at the paid price
        await api.client.put(
            "/api/v1/channels/GENERAL", json={"max_cost_per_message": 0.0008}, headers=api.headers
        )
        await chat.hook(chat.rc.say("GENERAL", "Alice00001", text))
        [reply] = chat.replies()
        # Two readers' languages: one fits under the cap with the paid engine, the other does not.
        assert len(reply["attachments"]) == 2
        assert len(paid.calls) == 1 and len(free.calls) == 1
