"""A small async Rocket.Chat REST client (personal-access-token auth, retries, clear errors).

Authentication is the `X-User-Id` / `X-Auth-Token` header pair (a personal access token or a
login token). Reads are retried on 429 and 5xx and on network errors, honouring `Retry-After`
(or Rocket.Chat's `X-RateLimit-Reset`, epoch milliseconds) up to a bound; 401 is never retried
and raised as `RocketChatUnauthorized`. Tokens never appear in errors, reprs or logs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from service.outbound import (
    OutboundClient,
    OutboundError,
    OutboundInvalidURL,
    OutboundRefused,
    OutboundResponse,
    OutboundTimeout,
)

# `RocketChatError.error` when the outbound policy refused the address (nothing was sent).
POLICY_REFUSED = "outbound_policy"


class RocketChatError(Exception):
    """A Rocket.Chat call failed; `status` is the HTTP status (0 for network errors)."""

    def __init__(self, message: str, *, status: int = 0, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def public_reason(exc: RocketChatError) -> str:
    """What a caller of this service may be told: never Rocket.Chat's (or whatever answered
    at the URL) own words, which would make the URL a way to read internal services."""
    if exc.error == POLICY_REFUSED:
        return str(exc)
    status = f" (HTTP {exc.status})" if exc.status else ""
    return f"Rocket.Chat could not be reached or did not answer as expected{status}"


class RocketChatUnauthorized(RocketChatError):
    """401: the user id / token pair was rejected (wrong, expired or revoked token)."""


class RocketChatForbidden(RocketChatError):
    """403: authenticated, but not allowed to do that."""


class RocketChatNotFound(RocketChatError):
    """The user, room or subscription does not exist (or is not visible to these credentials)."""


class RocketChatRequestError(RocketChatError):
    """A 4xx with Rocket.Chat's `{success: false, error}` body."""


class RocketChatUnavailable(RocketChatError):
    """Rate limited, server errors or unreachable, after the retries."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user_id: str
    token: str

    def headers(self) -> dict[str, str]:
        return {"X-User-Id": self.user_id, "X-Auth-Token": self.token}

    def __repr__(self) -> str:
        return f"Credentials(user_id={self.user_id!r}, token=***)"


_NOT_FOUND_MARKERS = (
    "not found",
    "not-found",
    "error-room-not-found",
    "error-invalid-user",
    "error-invalid-room",
    "does not match any",
)


class RocketChatClient:
    """One Rocket.Chat server, one identity. `http` is shared and owned by the caller."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        http: OutboundClient,
        *,
        timeout: float = 5.0,
        max_retries: int = 2,
        backoff: float = 0.2,
        max_wait: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._http = http
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_wait = max_wait

    @property
    def user_id(self) -> str:
        return self._credentials.user_id

    # -- calls ---------------------------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        """The authenticated user (validates the token): `_id`, `username`, `roles`, ..."""
        return await self.get("me")

    async def user_info(self, user_id: str) -> dict[str, Any]:
        body = await self.get("users.info", {"userId": user_id})
        return _object(body, "user")

    async def room_info(self, room_id: str) -> dict[str, Any]:
        body = await self.get("rooms.info", {"roomId": room_id})
        return _object(body, "room")

    async def subscription(self, room_id: str) -> dict[str, Any] | None:
        """The calling identity's subscription to a room (None when it is not a member)."""
        body = await self.get("subscriptions.getOne", {"roomId": room_id})
        sub = body.get("subscription")
        return sub if isinstance(sub, dict) else None

    async def room_roles(self, room_id: str, room_type: str) -> list[dict[str, Any]]:
        """Owners, moderators and leaders of a channel ('c') or private group ('p')."""
        endpoint = {"c": "channels.roles", "p": "groups.roles"}.get(room_type)
        if endpoint is None:
            return []
        body = await self.get(endpoint, {"roomId": room_id})
        roles = body.get("roles")
        return [r for r in roles if isinstance(r, dict)] if isinstance(roles, list) else []

    async def room_members(
        self, room_id: str, room_type: str, *, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Members of a channel ('c'), private group ('p') or direct room ('d'), paged."""
        endpoint = {"c": "channels.members", "p": "groups.members", "d": "im.members"}.get(
            room_type
        )
        if endpoint is None:
            return []
        members: list[dict[str, Any]] = []
        page = 100
        while len(members) < limit:
            body = await self.get(
                endpoint, {"roomId": room_id, "offset": str(len(members)), "count": str(page)}
            )
            batch = body.get("members")
            got = [m for m in batch if isinstance(m, dict)] if isinstance(batch, list) else []
            members.extend(got)
            total = body.get("total")
            if len(got) < page or (isinstance(total, int) and len(members) >= total):
                break
        return members[:limit]

    async def room_history(
        self, room_id: str, room_type: str, *, count: int = 20
    ) -> list[dict[str, Any]]:
        """The room's latest messages, newest first (`channels.history` / `groups.history`)."""
        endpoint = {"c": "channels.history", "p": "groups.history", "d": "im.history"}.get(
            room_type
        )
        if endpoint is None:
            return []
        body = await self.get(endpoint, {"roomId": room_id, "count": str(count)})
        return _messages(body)

    async def thread_messages(self, tmid: str, *, count: int = 20) -> list[dict[str, Any]]:
        """Replies of a thread (`chat.getThreadMessages`), newest first."""
        body = await self.get(
            "chat.getThreadMessages", {"tmid": tmid, "count": str(count), "sort": '{"ts": -1}'}
        )
        return _messages(body)

    async def get_message(self, msg_id: str) -> dict[str, Any]:
        body = await self.get("chat.getMessage", {"msgId": msg_id})
        return _object(body, "message")

    async def post_message(
        self,
        *,
        room_id: str | None = None,
        channel: str | None = None,
        text: str = "",
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """`chat.postMessage` into a room id, or a `#channel` / `@username` (a direct message)."""
        body: dict[str, Any] = {"text": text}
        if room_id is not None:
            body["roomId"] = room_id
        if channel is not None:
            body["channel"] = channel
        if attachments:
            body["attachments"] = attachments
        return _object(await self.post("chat.postMessage", body), "message")

    async def send_message(
        self,
        room_id: str,
        text: str = "",
        *,
        tmid: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        """`chat.sendMessage`: the way to reply in a thread (`tmid`).

        With `message_id` the message gets that id, so a caller that lost the answer can ask
        `chat.getMessage` whether it arrived instead of sending it twice.
        """
        message: dict[str, Any] = {"rid": room_id, "msg": text}
        if message_id is not None:
            message["_id"] = message_id
        if tmid is not None:
            message["tmid"] = tmid
        if attachments:
            message["attachments"] = attachments
        return _object(await self.post("chat.sendMessage", {"message": message}), "message")

    async def update_message(self, room_id: str, msg_id: str, text: str) -> dict[str, Any]:
        """`chat.update`: replaces the text only (the endpoint accepts no attachments)."""
        body = await self.post("chat.update", {"roomId": room_id, "msgId": msg_id, "text": text})
        return _object(body, "message")

    async def delete_message(self, room_id: str, msg_id: str) -> None:
        await self.post("chat.delete", {"roomId": room_id, "msgId": msg_id})

    # -- transport -----------------------------------------------------------------------------

    async def get(self, endpoint: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return await self.request("GET", endpoint, params=params, idempotent=True)

    async def post(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        # A 5xx after a POST may have been applied: only 429 (refused, not applied) is retried.
        return await self.request("POST", endpoint, json=body, idempotent=False)

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        url = f"{self.base_url}/api/v1/{endpoint}"
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=self._credentials.headers(),
                    timeout=self._timeout,
                )
            except OutboundTimeout:
                if attempt < self._max_retries and idempotent:
                    attempt += 1
                    await asyncio.sleep(self._delay(attempt, None))
                    continue
                raise RocketChatUnavailable(f"Rocket.Chat {endpoint}: timed out") from None
            except OutboundRefused:
                raise RocketChatUnavailable(
                    f"Rocket.Chat {endpoint}: the server's outbound policy refuses this "
                    "address (an operator allows on-premises networks with "
                    "UTP_OUTBOUND_ALLOWED_NETWORKS)",
                    error=POLICY_REFUSED,
                ) from None
            except OutboundInvalidURL as exc:
                # A configuration error: no retry can fix it.
                raise RocketChatUnavailable(f"Rocket.Chat {endpoint}: {exc}") from None
            except OutboundError as exc:
                if attempt < self._max_retries:
                    attempt += 1
                    await asyncio.sleep(self._delay(attempt, None))
                    continue
                raise RocketChatUnavailable(
                    f"Rocket.Chat {endpoint}: unreachable ({exc})"
                ) from None
            status = response.status_code
            retryable = status == 429 or (idempotent and status >= 500)
            if retryable and attempt < self._max_retries:
                wait = self._delay(attempt + 1, response)
                if wait <= self._max_wait:
                    attempt += 1
                    await asyncio.sleep(wait)
                    continue
            return _result(endpoint, response)

    def _delay(self, attempt: int, response: OutboundResponse | None) -> float:
        hinted = _retry_after(response) if response is not None else None
        if hinted is not None:
            return hinted
        jitter = 0.5 + random.random()  # noqa: S311 - backoff jitter, not a secret
        return float(self._backoff * 2 ** (attempt - 1) * jitter)


def _retry_after(response: OutboundResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    reset = response.headers.get("x-ratelimit-reset")
    if reset and response.status_code == 429:
        try:
            return max(0.0, int(reset) / 1000 - time.time())
        except ValueError:
            return None
    return None


def _result(endpoint: str, response: OutboundResponse) -> dict[str, Any]:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    error: str | None = None
    if isinstance(body, dict):
        raw = body.get("error") or body.get("message")
        error = str(raw)[:300] if raw else None
    if status == 401:
        raise RocketChatUnauthorized(
            f"Rocket.Chat {endpoint}: the user id / auth token pair was rejected",
            status=401,
            error=error,
        )
    if status == 403:
        raise RocketChatForbidden(f"Rocket.Chat {endpoint}: forbidden", status=403, error=error)
    if status == 429:
        raise RocketChatUnavailable(
            f"Rocket.Chat {endpoint}: rate limited", status=429, error=error
        )
    if status >= 500:
        raise RocketChatUnavailable(
            f"Rocket.Chat {endpoint}: server error {status}", status=status, error=error
        )
    if status == 404 or (
        status == 400 and error and any(m in error.lower() for m in _NOT_FOUND_MARKERS)
    ):
        raise RocketChatNotFound(f"Rocket.Chat {endpoint}: not found", status=status, error=error)
    if status >= 400:
        raise RocketChatRequestError(
            f"Rocket.Chat {endpoint}: {error or f'HTTP {status}'}", status=status, error=error
        )
    if not isinstance(body, dict):
        raise RocketChatUnavailable(f"Rocket.Chat {endpoint}: the reply is not a JSON object")
    if body.get("success") is False:
        raise RocketChatRequestError(
            f"Rocket.Chat {endpoint}: {error or 'unsuccessful'}", status=status, error=error
        )
    return body


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise RocketChatUnavailable(f"Rocket.Chat reply without {key!r}")
    return value
