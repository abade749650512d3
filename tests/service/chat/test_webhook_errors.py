"""Bad webhook calls are refused in the error envelope without side effects; a bad bot token
shows in the workspace's Rocket.Chat status."""

from __future__ import annotations

import sqlalchemy as sa

from service.db.models import User
from service.settings import Settings
from tests.service.conftest import start_api
from tests.service.scripted import FixedDetector, ScriptedProvider

from .conftest import Chat, chat_settings, configure
from .fake_chat import ChatFake


async def test_wrong_token_is_403_and_changes_nothing(chat: Chat) -> None:
    payload = chat.rc.say("GENERAL", "Alice00001", "Hello")
    chat.rc.received.clear()
    for token in ("not-the-token", ""):
        response = await chat.hook(payload, token=token)
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "invalid_webhook_token" and error["request_id"]
    assert chat.rc.received == [] and chat.api.provider.calls == []
    assert await chat.rows(sa.select(User.id)) == []


async def test_malformed_payloads_are_4xx_in_the_envelope(chat: Chat) -> None:
    url = "/integrations/rocketchat/outgoing"
    client = chat.api.client
    missing = {"token": chat.token, "channel_id": "GENERAL", "user_id": "Alice00001"}
    for response in (
        await client.post(url, json=missing),  # no message_id
        await client.post(url, json=[1, 2]),
        await client.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
        await client.post(url, json={**missing, "message_id": "x", "text": 5}),
    ):
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()) == {"error"} and response.json()["error"]["code"]
    # A channel id that cannot be a Rocket.Chat room id names nothing.
    bad_room = {**missing, "message_id": "M1", "channel_id": "../../etc", "text": "hi"}
    assert (await client.post(url, json=bad_room)).status_code == 404
    await chat.settle()
    assert chat.rc.received == []


async def test_the_status_route_reports_a_working_bot(chat: Chat) -> None:
    response = await chat.api.client.get(
        "/api/v1/integrations/rocketchat/status", headers=chat.api.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bot"]["status"] == "ok" and body["bot"]["username"] == "translatorbot01"
    assert body["webhook_token_set"] is True and body["last_problem"] is None


async def test_a_bad_bot_token_is_clear_in_the_status(
    sqlite_settings: Settings, rc: ChatFake, detector: FixedDetector
) -> None:
    provider = ScriptedProvider("scripted", pairs=None)
    async for api in start_api(chat_settings(sqlite_settings), provider, detector):
        token = await configure(api, rc, bot_token="revoked-token-0000000000")
        chat = Chat(api=api, rc=rc, token=token)
        response = await chat.hook(chat.rc.say("GENERAL", "Alice00001", "Hello"))
        assert response.status_code == 200  # Rocket.Chat is answered; the problem is ours
        assert chat.replies() == [] and provider.calls == []
        # Only the first call was made: a 401 is never retried.
        assert [r.path for r in rc.received[-1:]] == ["/api/v1/rooms.info"]

        status = await api.client.get("/api/v1/integrations/rocketchat/status", headers=api.headers)
        body = status.json()
        assert body["bot"]["status"] == "unauthorized"
        assert "personal access token" in body["bot"]["message"]
        assert body["last_problem"]["code"] == "rocketchat_bot_unauthorized"
        assert "revoked-token" not in status.text
