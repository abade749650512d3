"""Chat commands through trigger words, answered by direct message from the bot."""

from __future__ import annotations

from typing import Any

from .conftest import BOT, Chat


def dm_to(chat: Chat, username: str) -> list[str]:
    """Texts the bot sent to `@username` with chat.postMessage."""
    return [
        b["text"] for b in chat.rc.posted("chat.postMessage") if b.get("channel") == f"@{username}"
    ]


def in_room(chat: Chat) -> list[dict[str, Any]]:
    return [m for m in chat.replies() if m["rid"] == "GENERAL"]


async def command(chat: Chat, user_id: str, text: str) -> dict[str, Any]:
    payload = chat.rc.say("GENERAL", user_id, text, trigger_word=text.split()[0])
    response = await chat.hook(payload)
    assert response.status_code == 200 and response.content == b""
    return payload


async def test_lang_shows_and_sets_my_language(chat: Chat) -> None:
    await command(chat, "Dave000001", "!lang")
    assert dm_to(chat, "dave000001") == [
        "Your language is English (`en`, from your Rocket.Chat profile). "
        "Change it with `!lang <code>`."
    ]
    await command(chat, "Dave000001", "!lang de")
    assert "German (`de`)" in dm_to(chat, "dave000001")[-1]
    # The answer is private: nothing was posted in the room, and no command got translated.
    assert [m for m in chat.replies() if m["rid"] == "GENERAL"] == []
    assert chat.api.provider.calls == []
    # From now on Dave reads German.
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Welcome Dave"))
    [reply] = [m for m in chat.replies() if m["rid"] == "GENERAL"]
    assert [a["title"] for a in reply["attachments"]] == ["🌍 French", "🌍 German", "🌍 Spanish"]

    await command(chat, "Dave000001", "!lang klingon-ish")
    assert dm_to(chat, "dave000001")[-1].startswith("⚠️ `klingon-ish` is not a language code")


async def test_translate_off_needs_a_channel_admin(chat: Chat) -> None:
    await command(chat, "Bob0000001", "!translate off")
    assert "owners and moderators" in dm_to(chat, "bob0000001")[-1]
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Still translated"))
    assert len(in_room(chat)) == 1

    await command(chat, "Alice00001", "!translate off")  # Alice owns #general
    assert dm_to(chat, "alice00001")[-1] == "Translation is now off in #general."
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Not translated now"))
    assert len(in_room(chat)) == 1

    await command(chat, "Alice00001", "!translate on")
    await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Translated again"))
    assert len(in_room(chat)) == 2


async def test_one_off_translation(chat: Chat) -> None:
    await command(chat, "Carla00001", "!translate es good morning, team")
    assert dm_to(chat, "carla00001") == ["🌍 Spanish: [es] good morning, team"]
    [call] = chat.api.provider.calls
    assert call.target == "es" and call.texts == ("good morning, team",)


async def test_answers_go_into_a_thread_when_no_direct_message_is_possible(chat: Chat) -> None:
    chat.rc.users["Bob0000001"].username = "bob-renamed"  # so @bob0000001 names nobody
    payload = chat.rc.say("GENERAL", "Bob0000001", "!lang")
    payload["user_name"] = "bob0000001"
    await chat.hook(payload)
    [answer] = chat.rc.by(BOT)
    assert answer["tmid"] == payload["message_id"] and answer["msg"].startswith("Your language is")
