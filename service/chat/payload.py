"""The outgoing-webhook payload Rocket.Chat sends for the "Message Sent" event."""

from __future__ import annotations

from typing import Any

import msgspec


class OutgoingMessage(msgspec.Struct, frozen=True, rename={"is_edited": "isEdited"}):
    """`{token, bot, trigger_word?, channel_id, channel_name, message_id, timestamp, user_id,
    user_name, text, siteUrl, alias?, isEdited?, tmid?}`; fields Rocket.Chat may add are ignored.

    `bot` is the message's own `bot` field (`{"i": <integration id>}` for messages posted by
    integrations), present only for bot messages.
    """

    token: str
    channel_id: str
    message_id: str
    user_id: str
    text: str = ""
    user_name: str | None = None
    channel_name: str | None = None
    bot: Any = None
    trigger_word: str | None = None
    timestamp: Any = None
    alias: str | None = None
    is_edited: bool = False
    tmid: str | None = None
