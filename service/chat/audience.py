"""Who reads a room, and in which language: the room's members through the bot, their stored
preferences, else their Rocket.Chat profile language (asked once, then kept on our user row)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import preferences
from service.db.models import User, UserPreferences
from service.db.role import unless_read_only
from service.rocketchat import RocketChatClient, RocketChatError

_PROFILE_LOOKUPS = 8
_UNASKED: tuple[float, bool, str | None] = (0.0, False, None)


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    type: str  # c | p | d
    # Rocket.Chat user id -> the language that member reads (only members who read translations).
    readers: dict[str, str]


def profile_language(user: dict[str, Any]) -> str | None:
    language = user.get("language")
    if not language:
        settings = user.get("settings")
        prefs = settings.get("preferences") if isinstance(settings, dict) else None
        language = prefs.get("language") if isinstance(prefs, dict) else None
    return language if isinstance(language, str) and language else None


def _is_bot(user: dict[str, Any]) -> bool:
    return user.get("type") == "bot" or "bot" in (user.get("roles") or [])


class Audience:
    """Rooms' readers, cached for `ttl` seconds per room."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._rooms: dict[tuple[uuid.UUID, str], tuple[float, Room]] = {}
        # Members whose profile we asked Rocket.Chat about:
        # (workspace, user) -> (until, is_bot, the profile's language).
        self._profiles: dict[tuple[uuid.UUID, str], tuple[float, bool, str | None]] = {}

    def forget(self, workspace_id: uuid.UUID) -> None:
        """Drop a workspace's cached rooms (a member's language changed)."""
        for key in [k for k in self._rooms if k[0] == workspace_id]:
            self._rooms.pop(key, None)

    async def room(self, client: RocketChatClient, workspace_id: uuid.UUID, room_id: str) -> Room:
        key = (workspace_id, room_id)
        now = time.monotonic()
        cached = self._rooms.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        info = await client.room_info(room_id)
        room_type = str(info.get("t") or "c")
        members = await client.room_members(room_id, room_type)
        readers = await self._readers(client, workspace_id, members)
        room = Room(id=room_id, type=room_type, readers=readers)
        if len(self._rooms) > 10_000:
            self._rooms.clear()
        self._rooms[key] = (now + self._ttl, room)
        return room

    async def _readers(
        self, client: RocketChatClient, workspace_id: uuid.UUID, members: Iterable[dict[str, Any]]
    ) -> dict[str, str]:
        names = {
            str(m["_id"]): (m.get("username") if isinstance(m.get("username"), str) else None)
            for m in members
            if isinstance(m.get("_id"), str)
        }
        if not names:
            return {}
        known = await self._known(workspace_id, list(names))
        now = time.monotonic()
        ask = [
            uid
            for uid in names
            if (uid not in known or known[uid][0].rocketchat_language is None)
            and self._profiles.get((workspace_id, uid), _UNASKED)[0] <= now
        ]
        if ask:
            await self._ask_profiles(client, workspace_id, ask, names)
            known = await self._known(workspace_id, list(names))
        readers: dict[str, str] = {}
        for uid in names:
            _, bot, profile = self._profiles.get((workspace_id, uid), _UNASKED)
            if bot:
                continue  # another bot: it reads nothing
            entry = known.get(uid)
            if entry is None:
                # Not stored (a read-only replica): the profile Rocket.Chat just gave.
                readers[uid] = profile or preferences.DEFAULT_LANGUAGE
                continue
            user, prefs = entry
            effective = preferences.effective(user, prefs)
            if effective.enabled:
                readers[uid] = effective.target_lang
        return readers

    async def _known(
        self, workspace_id: uuid.UUID, user_ids: list[str]
    ) -> dict[str, tuple[User, UserPreferences | None]]:
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(User, UserPreferences)
                .outerjoin(UserPreferences, UserPreferences.user_id == User.id)
                .where(User.workspace_id == workspace_id, User.external_id.in_(user_ids))
            )
            return {user.external_id: (user, prefs) for user, prefs in rows}

    async def _ask_profiles(
        self,
        client: RocketChatClient,
        workspace_id: uuid.UUID,
        user_ids: list[str],
        names: dict[str, str | None],
    ) -> None:
        gate = asyncio.Semaphore(_PROFILE_LOOKUPS)

        async def one(uid: str) -> tuple[str, dict[str, Any] | None]:
            async with gate:
                try:
                    return uid, await client.user_info(uid)
                except RocketChatError:
                    return uid, None

        answers = await asyncio.gather(*(one(uid) for uid in user_ids))
        until = time.monotonic() + self._ttl * 10
        known = [(uid, info) for uid, info in answers if info is not None]
        for uid, info in known:
            self._profiles[(workspace_id, uid)] = (until, _is_bot(info), profile_language(info))
        # On a read-only replica the profiles are not stored: members new since then get the
        # default language until the region is promoted and Rocket.Chat is asked again.
        with unless_read_only("members' Rocket.Chat profiles"):
            async with self._sessions.begin() as session:
                for uid, info in known:
                    username = info.get("username")
                    await preferences.upsert_user(
                        session,
                        workspace_id,
                        uid,
                        username=username if isinstance(username, str) else names.get(uid),
                        rocketchat_language=profile_language(info),
                    )
        if len(self._profiles) > 100_000:
            self._profiles.clear()
