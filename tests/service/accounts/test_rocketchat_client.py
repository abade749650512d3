"""The Rocket.Chat REST client against the loopback fake: auth, shapes, retries, clear errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from service.outbound import OutboundClient
from service.rocketchat import (
    Credentials,
    RocketChatClient,
    RocketChatNotFound,
    RocketChatUnauthorized,
    RocketChatUnavailable,
)
from tests.service.providers.fakes.base import Scripted

from .fake_rocketchat import RocketChatFake


@pytest.fixture
async def http() -> AsyncIterator[OutboundClient]:
    async with OutboundClient(10.0) as client:
        yield client


def _client(rc: RocketChatFake, http: OutboundClient, user_id: str, token: str) -> RocketChatClient:
    return RocketChatClient(rc.url, Credentials(user_id, token), http, backoff=0.01)


async def test_calls_and_shapes(rocketchat: RocketChatFake, http: OutboundClient) -> None:
    alice = rocketchat.add_user("Alice00001", language="de", roles=["user", "admin"])
    rocketchat.add_room("GENERAL", roles={alice.id: ["owner"]})
    client = _client(rocketchat, http, alice.id, alice.token)
    me = await client.me()
    assert me["_id"] == alice.id and me["roles"] == ["user", "admin"]
    info = await client.user_info(alice.id)
    assert info["language"] == "de"
    room = await client.room_info("GENERAL")
    assert room["t"] == "c"
    sub = await client.subscription("GENERAL")
    assert sub is not None and sub["roles"] == ["owner"] and sub["u"]["_id"] == alice.id
    roles = await client.room_roles("GENERAL", "c")
    assert roles[0]["u"]["_id"] == alice.id
    assert await client.room_roles("GENERAL", "d") == []
    [call] = rocketchat.calls("users.info")
    assert call.query == {"userId": alice.id}
    assert call.headers["x-user-id"] == alice.id and call.headers["x-auth-token"] == alice.token


async def test_not_a_member_and_not_found(rocketchat: RocketChatFake, http: OutboundClient) -> None:
    bob = rocketchat.add_user("Bob0000001")
    rocketchat.add_room("GENERAL")
    client = _client(rocketchat, http, bob.id, bob.token)
    assert await client.subscription("GENERAL") is None
    with pytest.raises(RocketChatNotFound):
        await client.room_info("NOPE")
    with pytest.raises(RocketChatNotFound):
        await client.user_info("Nobody")


async def test_401_is_clear_and_never_retried(
    rocketchat: RocketChatFake, http: OutboundClient
) -> None:
    rocketchat.add_user("Alice00001")
    secret = "definitely-wrong-token-123"
    client = _client(rocketchat, http, "Alice00001", secret)
    with pytest.raises(RocketChatUnauthorized) as caught:
        await client.me()
    assert caught.value.status == 401 and "rejected" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(client._credentials)
    assert len(rocketchat.calls("me")) == 1


async def test_429_and_5xx_are_retried_honouring_retry_after(
    rocketchat: RocketChatFake, http: OutboundClient
) -> None:
    alice = rocketchat.add_user("Alice00001")
    client = _client(rocketchat, http, alice.id, alice.token)
    rocketchat.enqueue(
        Scripted(
            status=429,
            body={"success": False, "error": "Error, too many requests. [error-too-many-requests]"},
            headers={"Retry-After": "0.3"},
        ),
        Scripted(status=502, body="bad gateway"),
    )
    started = time.monotonic()
    me = await client.me()
    assert me["_id"] == alice.id
    assert time.monotonic() - started >= 0.3  # waited as told
    assert len(rocketchat.calls("me")) == 3

    rocketchat.received.clear()
    rocketchat.enqueue(*[Scripted(status=429, body={"success": False})] * 3)
    with pytest.raises(RocketChatUnavailable) as caught:
        await client.me()
    assert caught.value.status == 429 and len(rocketchat.calls("me")) == 3


async def test_retry_after_beyond_the_bound_is_not_waited_for(
    rocketchat: RocketChatFake, http: OutboundClient
) -> None:
    alice = rocketchat.add_user("Alice00001")
    client = _client(rocketchat, http, alice.id, alice.token)
    rocketchat.enqueue(
        Scripted(status=429, body={"success": False}, headers={"Retry-After": "600"})
    )
    started = time.monotonic()
    with pytest.raises(RocketChatUnavailable):
        await client.me()
    assert time.monotonic() - started < 5 and len(rocketchat.calls("me")) == 1


async def test_unreachable_server(http: OutboundClient) -> None:
    from tests.servers import free_port

    client = RocketChatClient(
        f"http://127.0.0.1:{free_port()}", Credentials("u", "t"), http, backoff=0.01, timeout=1
    )
    with pytest.raises(RocketChatUnavailable, match="unreachable"):
        await client.me()


async def test_unusable_url_fails_at_once(http: OutboundClient) -> None:
    client = RocketChatClient("ftp://chat.example", Credentials("u", "t"), http, backoff=30)
    with pytest.raises(RocketChatUnavailable, match="unsupported URL"):
        # No retries: with a 30 s backoff, one would outlast the test's timeout.
        await asyncio.wait_for(client.me(), timeout=5)
