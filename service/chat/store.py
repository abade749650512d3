"""The bot's deliveries: which reply (or which edit of the original) carries a message's
translation, so that an edit of the message replaces it instead of adding another."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import ChatDelivery
from service.db.role import unless_read_only


@dataclass(frozen=True, slots=True)
class Delivery:
    message_id: str
    room_id: str
    mode: str
    reply_id: str | None
    written_digest: str | None
    languages: tuple[str, ...]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DeliveryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, workspace_id: uuid.UUID, message_id: str) -> Delivery | None:
        async with self._sessions() as session:
            row = await session.get(ChatDelivery, (workspace_id, message_id))
            if row is None:
                return None
            return Delivery(
                message_id=row.message_id,
                room_id=row.room_id,
                mode=row.mode,
                reply_id=row.reply_id,
                written_digest=row.written_digest,
                languages=tuple(row.languages or ()),
            )

    async def save(
        self,
        workspace_id: uuid.UUID,
        message_id: str,
        *,
        room_id: str,
        mode: str,
        reply_id: str | None = None,
        written_digest: str | None = None,
        languages: list[str] | None = None,
    ) -> None:
        # On a read-only replica the delivery is not recorded: an edit of that message later
        # gets a new reply instead of replacing this one.
        with unless_read_only("a chat delivery"):
            async with self._sessions.begin() as session:
                row = await session.get(ChatDelivery, (workspace_id, message_id))
                if row is None:
                    row = ChatDelivery(workspace_id=workspace_id, message_id=message_id)
                    session.add(row)
                row.room_id = room_id
                row.mode = mode
                row.reply_id = reply_id
                row.written_digest = written_digest
                row.languages = list(languages or [])
                row.updated_at = datetime.now(UTC)

    async def forget(self, workspace_id: uuid.UUID, message_id: str) -> None:
        with unless_read_only("a chat delivery's removal"):
            async with self._sessions.begin() as session:
                row = await session.get(ChatDelivery, (workspace_id, message_id))
                if row is not None:
                    await session.delete(row)
