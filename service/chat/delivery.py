"""Posting translations back into Rocket.Chat: one result per message, retried, never doubled.

Two shapes, chosen per channel (`delivery_mode`):

- `thread` (default): a reply in the message's thread (`tmid`: the message itself, or the thread
  it is already in) with one attachment per language, titled "🌍 <language name>". An edit of
  the message posts the new reply and then deletes the earlier one: `chat.update` replaces a
  message's text only (its schema refuses `attachments`), so an attachment reply cannot be
  rewritten in place.
- `attachment`: the translations are added under the original message itself, with `chat.update`
  (as quoted "🌍 <language>: ..." lines, for the same reason). An edit replaces that block.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from service.rocketchat import (
    RocketChatClient,
    RocketChatNotFound,
    RocketChatUnavailable,
)
from service.translation import languages

log = logging.getLogger(__name__)

T = TypeVar("T")

COLOR = "#1d74f5"
GLOBE = "🌍"
# Where the translations added to an original message begin ("attachment" mode).
INLINE_MARK = f"\n\n> {GLOBE} "
# Meteor's id alphabet, as Rocket.Chat's own message ids.
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    text: str

    @property
    def title(self) -> str:
        return f"{GLOBE} {languages.name(self.language)}"


def new_message_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def attachments(translations: Sequence[Rendered]) -> list[dict[str, Any]]:
    return [{"title": t.title, "text": t.text, "color": COLOR} for t in translations]


def strip_inline(text: str) -> str:
    """The author's text without the translations the bot added under it earlier."""
    cut = text.find(INLINE_MARK)
    return text if cut < 0 else text[:cut]


def with_inline(text: str, translations: Sequence[Rendered]) -> str:
    lines = []
    for t in translations:
        body = t.text.replace("\n", "\n> ")
        lines.append(f"> {GLOBE} *{languages.name(t.language)}*: {body}")
    return strip_inline(text) + "\n\n" + "\n".join(lines)


class Courier:
    """Rocket.Chat calls of a delivery, with retries.

    The REST client already waits out a 429's Retry-After a couple of times; the courier adds
    attempts with growing back-off for rate limits, 5xx and network failures that outlast those.
    Rejections (401, 403, 404, 400) are not retried.
    """

    def __init__(self, *, attempts: int, backoff: float) -> None:
        self.attempts = max(1, attempts)
        self.backoff = backoff

    async def call(self, action: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return await action()
            except RocketChatUnavailable:
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_reply(
        self,
        client: RocketChatClient,
        room_id: str,
        *,
        tmid: str,
        translations: Sequence[Rendered],
    ) -> str:
        """Post the thread reply once; returns its id.

        The reply carries an id chosen here, so after a 5xx or a timeout (when Rocket.Chat may
        have stored it anyway) `chat.getMessage` tells whether to send it again.
        """
        reply_id = new_message_id()
        body = attachments(translations)
        for attempt in range(1, self.attempts + 1):
            try:
                await client.send_message(
                    room_id, "", tmid=tmid, attachments=body, message_id=reply_id
                )
                return reply_id
            except RocketChatUnavailable as exc:
                if exc.status != 429 and await _exists(client, reply_id):
                    return reply_id
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover


async def _exists(client: RocketChatClient, message_id: str) -> bool:
    try:
        await client.get_message(message_id)
    except RocketChatNotFound:
        return False
    except RocketChatUnavailable:
        return False
    return True
